"""Readings as PostgreSQL binary COPY data for (series_id, ts, value, value_text, quality).

psycopg's `write_row` adapts every value of every row through its type machinery: for 10-point
messages that was a sixth of the writer's worker CPU. The five columns never change type, and nearly
every reading is a number with no text, so here such a row is one `struct.pack`. psycopg still runs
the COPY (`Copy.write` with the whole block); the round trip through PostgreSQL itself is tested.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ingest_stream.records import Reading

# The file header (signature, flags 0, no extension) and trailer of PostgreSQL's binary COPY format.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NULL = struct.pack("!i", -1)

# 5 fields; int4 series_id; timestamptz as microseconds since 2000; float8 value; NULL value_text; int2 quality.
_NUMBER_ROW = struct.Struct("!hiiiqidiih")
_ROW_START = struct.Struct("!hiiiq")  # field count, series_id, ts
_FLOAT8 = struct.Struct("!id")
_LENGTH = struct.Struct("!i")
_INT2 = struct.Struct("!ih")


def copy_data(series_ids: Sequence[int], readings: Sequence[Reading]) -> bytes:
    """The whole COPY payload, header to trailer, one row per reading (`series_ids` in the same order)."""
    parts = [_HEADER]
    append = parts.append
    pack_number = _NUMBER_ROW.pack
    last_ts: datetime | None = None
    micros = 0
    for series_id, reading in zip(series_ids, readings, strict=True):
        ts = reading.ts
        if ts is not last_ts:  # the points of one message share one datetime object
            micros = (ts - _POSTGRES_EPOCH) // _MICROSECOND
            last_ts = ts
        value, text = reading.value, reading.value_text
        if text is None and value is not None:
            append(pack_number(5, 4, series_id, 8, micros, 8, value, -1, 2, reading.quality))
        else:
            append(_any_row(series_id, micros, value, text, reading.quality))
    append(_TRAILER)
    return b"".join(parts)


def _any_row(series_id: int, micros: int, value: float | None, text: str | None, quality: int) -> bytes:
    encoded = None if text is None else text.encode()
    return b"".join((
        _ROW_START.pack(5, 4, series_id, 8, micros),
        _NULL if value is None else _FLOAT8.pack(8, value),
        _NULL if encoded is None else _LENGTH.pack(len(encoded)) + encoded,
        _INT2.pack(2, quality),
    ))
