"""The three rollup levels and the window arithmetic every refresh uses: pure, no database.

The level list is the fixed allow-list that SQL identifiers come from; a window must never reach
back past the source table's retention horizon (re-aggregating deleted readings would erase the
rollup rows that still hold them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.defs.partitions import daily_partitions_with_current, hourly_partitions_with_current

# Buckets are aligned on this origin (as TimescaleDB's time_bucket aligns minutes, hours and days).
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RollupLevel:
    name: str  # asset key, and tds.<name> / tds.<name>_data in the database
    width: timedelta
    source_asset: str
    source_retention: str  # RetentionSettings field of the source table
    partitions_def: dg.TimeWindowPartitionsDefinition
    freshness_policy: dg.FreshnessPolicy
    description: str

    @property
    def data_table(self) -> str:
        return f"tds.{self.name}_data"


MINUTE = RollupLevel(
    "telemetry_1m", timedelta(minutes=1), "telemetry", "raw_days", hourly_partitions_with_current,
    dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=30), warn_window=timedelta(minutes=15)),
    "1-minute rollups of every numeric series (n, min, max, avg, sum, first, last); partition = one hour.",
)
HOUR = RollupLevel(
    "telemetry_1h", timedelta(hours=1), "telemetry_1m", "telemetry_1m_days", hourly_partitions_with_current,
    dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=30), warn_window=timedelta(minutes=15)),
    "1-hour rollups built from the 1-minute level (avg = sum/n); partition = one hour.",
)
DAY = RollupLevel(
    "telemetry_1d", timedelta(days=1), "telemetry_1h", "telemetry_1h_days", daily_partitions_with_current,
    dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=1)),
    "1-day rollups built from the 1-hour level (avg = sum/n); partition = one UTC day.",
)
LEVELS = (MINUTE, HOUR, DAY)


def floor_to_bucket(moment: datetime, width: timedelta) -> datetime:
    """The start of the bucket holding `moment`."""
    return BUCKET_ORIGIN + ((moment - BUCKET_ORIGIN) // width) * width


def ceil_to_bucket(moment: datetime, width: timedelta) -> datetime:
    """The first bucket start at or after `moment`."""
    floor = floor_to_bucket(moment, width)
    return floor if floor == moment else floor + width


def refreshable_window(start: datetime, end: datetime, width: timedelta,
                       horizon: datetime | None) -> tuple[datetime, datetime] | None:
    """The part of [start, end) whose source rows are all still kept; None when nothing is."""
    if horizon is not None:
        start = max(start, ceil_to_bucket(horizon, width))
    return (start, end) if start < end else None
