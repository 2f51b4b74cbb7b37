"""Hours where readings landed after the refreshes stopped rewriting them (`tds.stale_windows`), as windows.

The stream writer records them (every late landing: a DLQ replay, a device's late buffer, a gap
resend); the `late_landings` sensor reads them here and deletes those it reported. Never deletes a row
that changed after it was read (a newer landing in the same hour asks for that hour again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from tds_platform.time_windows import HOUR, Window

OLDEST = text("""
SELECT id, tenant, bucket, landed_at FROM tds.stale_windows ORDER BY id LIMIT :limit
""")

CLEAR = text("DELETE FROM tds.stale_windows WHERE id = ANY(CAST(:ids AS bigint[]))")


@dataclass(frozen=True, slots=True)
class StaleHour:
    id: int
    tenant: str
    bucket: datetime  # the hour's start
    landed_at: datetime  # when the batch that recorded it began


def oldest(conn: Connection, limit: int) -> list[StaleHour]:
    return [StaleHour(*row) for row in conn.execute(OLDEST, {"limit": limit})]


def clear(conn: Connection, ids: Sequence[int]) -> int:
    """Delete the rows read (by id); returns how many went."""
    if not ids:
        return 0
    return int(conn.execute(CLEAR, {"ids": list(ids)}).rowcount or 0)


def windows(hours: Sequence[StaleHour]) -> list[Window]:
    """The hours of every tenant merged into contiguous windows, oldest first: the rollups and quality
    partitions are per hour for all tenants together."""
    merged: list[Window] = []
    for start in sorted({h.bucket for h in hours}):
        if merged and merged[-1].end == start:
            merged[-1] = Window(merged[-1].start, start + HOUR)
        else:
            merged.append(Window(start, start + HOUR))
    return merged


def source_id(hours: Sequence[StaleHour]) -> str:
    """Names one report: the same rows give the same id, so a tick evaluated twice asks for the same runs."""
    digest = hashlib.sha256(",".join(str(h.id) for h in hours).encode()).hexdigest()[:16]
    return f"late-{digest}"
