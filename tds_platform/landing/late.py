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
SELECT tenant, bucket, landed_at FROM tds.stale_windows ORDER BY bucket, tenant LIMIT :limit
""")

# Only rows as they were read: a landing since moved landed_at and stays for the next report.
CLEAR = text("""
DELETE FROM tds.stale_windows s
USING unnest(CAST(:tenants AS text[]), CAST(:buckets AS timestamptz[]), CAST(:landed AS timestamptz[]))
      AS r(tenant, bucket, landed_at)
WHERE s.tenant = r.tenant AND s.bucket = r.bucket AND s.landed_at = r.landed_at
""")


@dataclass(frozen=True, slots=True)
class StaleHour:
    tenant: str
    bucket: datetime  # the hour's start
    landed_at: datetime  # the latest landing recorded in it


def oldest(conn: Connection, limit: int) -> list[StaleHour]:
    return [StaleHour(*row) for row in conn.execute(OLDEST, {"limit": limit})]


def clear(conn: Connection, hours: Sequence[StaleHour]) -> int:
    """Delete `hours` as they were read; returns how many rows went."""
    if not hours:
        return 0
    result = conn.execute(CLEAR, {"tenants": [h.tenant for h in hours], "buckets": [h.bucket for h in hours],
                                  "landed": [h.landed_at for h in hours]})
    return int(result.rowcount or 0)


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
    digest = hashlib.sha256("|".join(f"{h.tenant},{h.bucket.isoformat()},{h.landed_at.isoformat()}"
                                     for h in hours).encode()).hexdigest()[:16]
    return f"late-{digest}"
