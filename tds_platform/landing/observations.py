"""What an observation of the landing tables reads: newest time and recent row counts.

Reads only, over recent time ranges (index-backed on both editions); it must never scan a
table's whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

# Newest reading within a week: beyond that "none" is the useful answer, and the bound keeps
# the query on recent chunks.
NEWEST_WITHIN = timedelta(days=7)

TELEMETRY = text("""
SELECT (SELECT max(ts) FROM tds.telemetry_raw WHERE ts > :week_ago) AS newest,
       (SELECT count(*) FROM tds.telemetry_raw WHERE ts > :five_minutes_ago) AS last_5m,
       (SELECT count(*) FROM tds.telemetry_raw WHERE ts > :hour_ago) AS last_hour
""")

DLQ = text("""
SELECT (SELECT max(received_at) FROM tds.dlq WHERE received_at > :week_ago) AS newest,
       (SELECT count(*) FROM tds.dlq WHERE received_at > :five_minutes_ago) AS last_5m,
       (SELECT count(*) FROM tds.dlq WHERE received_at > :hour_ago) AS last_hour,
       (SELECT count(*) FROM tds.dlq WHERE replayed_at IS NULL) AS pending
""")


@dataclass(frozen=True, slots=True)
class Observation:
    newest: datetime | None
    counts: dict[str, int]

    def data_version(self) -> str:
        """Changes whenever newer rows land, so downstream rollups show as stale until refreshed."""
        return self.newest.isoformat() if self.newest else "empty"

    def metadata(self, newest_label: str) -> dict[str, Any]:
        newest = self.newest.isoformat() if self.newest else "none in the last 7 days"
        return {newest_label: newest, **self.counts}


def observe(engine: Engine, query: Any, now: datetime) -> Observation:
    params = {"week_ago": now - NEWEST_WITHIN, "five_minutes_ago": now - timedelta(minutes=5),
              "hour_ago": now - timedelta(hours=1)}
    with engine.connect() as conn:
        row = conn.execute(query, params).one()._asdict()
    newest = row.pop("newest")
    return Observation(newest, {f"rows_{name}": int(value) for name, value in row.items()})
