"""Rollup refresh jobs and their schedules: a trailing window, re-run every few minutes, in one run.

The hourly job (1m then 1h) and the daily job (1d) are separate because a run has one partitions
definition; each run covers its whole trailing range (single-run backfill policy), never one run
per partition.
"""

from datetime import datetime

import dagster as dg

from tds_platform.defs.partitions import (
    daily_partitions_with_current,
    hourly_partitions_with_current,
    key_range,
    range_schedule,
)
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.rollups.levels import TELEMETRY_1D, TELEMETRY_1H, TELEMETRY_1M
from tds_platform.rollups.settings import RollupSettings
from tds_platform.time_windows import DAY, HOUR, trailing_window

# Each step is one SQL statement: running steps in the run's own process saves a Python start-up
# per step (~20 s on a busy 2-core machine) for no loss of parallelism (the steps are a chain).
refresh_rollups_job = dg.define_asset_job(
    "refresh_rollups", selection=[TELEMETRY_1M.name, TELEMETRY_1H.name],
    partitions_def=hourly_partitions_with_current, tags=lane_tags(Lane.ROLLUPS), executor_def=dg.in_process_executor,
    description="Refresh the 1-minute and 1-hour rollups over a window.",
)
refresh_daily_rollups_job = dg.define_asset_job(
    "refresh_daily_rollups", selection=[TELEMETRY_1D.name], partitions_def=daily_partitions_with_current,
    tags=lane_tags(Lane.ROLLUPS), executor_def=dg.in_process_executor,
    description="Refresh the 1-day rollups over a window.",
)


def recent_hours(now: datetime, settings: RollupSettings) -> dg.PartitionKeyRange:
    """The hours the 1m and 1h refresh rewrites for late data, the running one included."""
    return key_range(hourly_partitions_with_current, trailing_window(now, HOUR, settings.trailing_hours))


def recent_days(now: datetime, settings: RollupSettings) -> dg.PartitionKeyRange:
    """The days the 1d refresh rewrites, today included (the marts rebuild the same days)."""
    return key_range(daily_partitions_with_current, trailing_window(now, DAY, settings.trailing_days))


def build_rollup_schedules(settings: RollupSettings) -> list[dg.ScheduleDefinition]:
    return [
        range_schedule("rollup_refresh", "*/5 * * * *", refresh_rollups_job, lambda now: recent_hours(now, settings),
                       "Every 5 minutes: rewrite the trailing hours of 1m and 1h rollups (late data)."),
        range_schedule("daily_rollup_refresh", "*/30 * * * *", refresh_daily_rollups_job,
                       lambda now: recent_days(now, settings),
                       "Every 30 minutes: rewrite the trailing days of 1d rollups."),
    ]
