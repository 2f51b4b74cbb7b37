"""The three rollup levels and the window a refresh may rewrite: pure, no database, no Dagster.

The level list is the fixed allow-list that SQL identifiers come from; a window must never reach
back past the source table's retention horizon (re-aggregating deleted readings would erase the
rollup rows that still hold them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tds_platform.time_windows import DAY, HOUR, ceil_to_bucket


@dataclass(frozen=True, slots=True)
class RollupLevel:
    name: str  # asset key, and tds.<name> / tds.<name>_data in the database
    width: timedelta
    source: str  # what it is built from: the raw readings (`telemetry`) or the level below

    @property
    def data_table(self) -> str:
        return f"tds.{self.name}_data"


TELEMETRY_1M = RollupLevel("telemetry_1m", timedelta(minutes=1), "telemetry")
TELEMETRY_1H = RollupLevel("telemetry_1h", HOUR, "telemetry_1m")
TELEMETRY_1D = RollupLevel("telemetry_1d", DAY, "telemetry_1h")
LEVELS = (TELEMETRY_1M, TELEMETRY_1H, TELEMETRY_1D)
LEVELS_BY_NAME = {level.name: level for level in LEVELS}


def refreshable_window(start: datetime, end: datetime, width: timedelta,
                       horizon: datetime | None) -> tuple[datetime, datetime] | None:
    """The part of [start, end) whose source rows are all still kept; None when nothing is."""
    if horizon is not None:
        start = max(start, ceil_to_bucket(horizon, width))
    return (start, end) if start < end else None
