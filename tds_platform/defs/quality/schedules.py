"""The quality job and its schedule: every 5 minutes, re-judge the trailing closed hours in one run.

A trailing window (not only the hour that just closed) picks up late data and re-sent history, so
a repaired gap clears within minutes; it never judges the hour still running (the partitions end
at the last complete hour).
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from tds_platform.defs.partitions import hourly_partitions, key_range, range_schedule
from tds_platform.defs.quality.assets import GAPS, QUALITY_HOURLY
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.quality.settings import QualitySettings
from tds_platform.time_windows import HOUR, closed_window

quality_job = dg.define_asset_job(
    "quality_hourly_job", selection=dg.AssetSelection.assets(QUALITY_HOURLY, GAPS), partitions_def=hourly_partitions,
    tags=lane_tags(Lane.QUALITY), description="Judge coverage, good-percentage and gaps of an hour (or a range).",
)


def closed_hours(now: datetime, count: int) -> dg.PartitionKeyRange:
    """The `count` complete hours before `now` (fewer near the first partition)."""
    return key_range(hourly_partitions, closed_window(now, HOUR, count))


def build_quality_schedule(settings: QualitySettings) -> dg.ScheduleDefinition:
    return range_schedule(
        "quality_hourly_schedule", "*/5 * * * *", quality_job, lambda now: closed_hours(now, settings.trailing_hours),
        "Every 5 minutes: judge the trailing closed hours (TDS_QUALITY_TRAILING_HOURS) in one run.")
