"""Compressed readings (migration 0011, `retention.compression`): chunks past the late-data window
are compressed on the full edition, readings still land in them exactly once through the writer's
own insert path, and retention still drops them; elsewhere compression is unavailable and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest_stream.handoff import Received
from ingest_stream.records import Reading
from ingest_stream.store import Batch, TelemetryStore
from tds_platform.db.edition import Edition, detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.retention.apply import apply_retention
from tds_platform.retention.compression import compress_settled
from tds_platform.retention.policy import RetentionSettings
from tests.batches import batch_of, good_reading, writer_store

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
OLD_DAY = (NOW - timedelta(days=10)).replace(hour=0)  # one whole chunk, well past the window
AFTER = timedelta(days=3)


def _flow(ts: datetime, value: float = 1.0) -> Reading:
    return good_reading("acme", "plant", "pump-1", "flow", ts, value)


def _batch(seconds: list[int], value: float = 1.0) -> Batch[Received]:
    """One message per reading of pump-1's flow, `seconds` after the start of OLD_DAY."""
    return batch_of(*[[_flow(OLD_DAY + timedelta(seconds=s), value)] for s in seconds])


@pytest.fixture
def writer(any_database: str) -> Iterator[TelemetryStore]:
    with writer_store(any_database) as store:
        yield store


def _readings(url: str) -> list[tuple[datetime, float]]:
    with psycopg.connect(url) as conn:
        return [(row[0], row[1]) for row in conn.execute("SELECT ts, value FROM tds.telemetry ORDER BY ts")]


def _compressed_chunks(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM timescaledb_information.chunks "  # type: ignore[index]
                                "WHERE hypertable_name = 'telemetry_raw' AND is_compressed").fetchone()[0])


def test_late_readings_resends_and_replays_land_once_in_a_compressed_chunk(
        writer: TelemetryStore, any_database: str) -> None:
    writer.write(_batch(list(range(0, 3600, 10))))
    writer.write(_batch([-3600]))  # the day before: a second settled chunk, compressed in its own transaction
    with writer_store(any_database, "test-recent") as recent:
        recent.write(batch_of([_flow(NOW, 2.0)]))

    compressed = compress_settled(engine_for(any_database), detect_edition_url(any_database), AFTER, NOW)
    if detect_edition_url(any_database) is not Edition.FULL:
        assert compressed.chunks == [] and compressed.unavailable is not None
        pytest.skip("compression needs the full TimescaleDB edition")
    assert len(compressed.chunks) == 2, "only the old days' chunks: today's is inside the late-data window"
    assert _compressed_chunks(any_database) == 2
    again = compress_settled(engine_for(any_database), Edition.FULL, AFTER, NOW)
    assert again.chunks == [], "a compressed chunk is left alone"

    # A gap resend: half already stored (redelivered duplicates), half new; then the same again (a DLQ
    # replay of it), with other values that must not overwrite what landed first.
    resend = list(range(1800, 5400, 10))
    first = writer.write(_batch(resend, value=9.0))
    assert (first.inserted, first.duplicates) == (180, 180)
    replay = writer.write(_batch(resend, value=7.0))
    assert (replay.inserted, replay.duplicates) == (0, 360)

    rows = _readings(any_database)
    old = [(ts, value) for ts, value in rows if OLD_DAY <= ts < OLD_DAY + timedelta(days=1)]
    assert [ts for ts, _ in old] == [OLD_DAY + timedelta(seconds=s) for s in range(0, 5400, 10)]
    assert {value for ts, value in old if ts < OLD_DAY + timedelta(seconds=3600)} == {1.0}
    assert {value for ts, value in old if ts >= OLD_DAY + timedelta(seconds=3600)} == {9.0}
    assert _compressed_chunks(any_database) == 2


def test_retention_drops_compressed_chunks_and_deletes_from_them(any_database: str) -> None:
    with writer_store(any_database) as store:
        store.write(_batch(list(range(0, 86400, 3600))))  # a reading every hour of OLD_DAY
    edition = detect_edition_url(any_database)
    compress_settled(engine_for(any_database), edition, AFTER, NOW)
    if edition is Edition.FULL:
        assert _compressed_chunks(any_database) == 1

    # Retention at noon of OLD_DAY: the chunk is partly expired, so its first 12 readings are deleted.
    noon = OLD_DAY + timedelta(hours=12)
    settings = RetentionSettings(raw_days=1)
    apply_retention(engine_for(any_database), edition, settings, noon + timedelta(days=1))
    assert [ts for ts, _ in _readings(any_database)] == [OLD_DAY + timedelta(hours=h) for h in range(12, 24)]
    # A day later the whole chunk has expired: dropped whole.
    apply_retention(engine_for(any_database), edition, settings, OLD_DAY + timedelta(days=2, seconds=1))
    assert _readings(any_database) == []


def test_compression_is_set_up_only_where_the_edition_has_it(any_database: str) -> None:
    with psycopg.connect(any_database) as conn:
        function = conn.execute(
            "SELECT to_regprocedure('tds.compress_settled_chunks(timestamptz, integer)')").fetchone()[0]
    assert (function is not None) == (detect_edition_url(any_database) is Edition.FULL)
