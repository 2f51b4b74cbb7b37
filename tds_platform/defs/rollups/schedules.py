"""Rollup refresh jobs and their schedules: a trailing window, re-run every few minutes, in one run.

The hourly job (1m then 1h) and the daily job (1d) are separate because a run has one partitions
definition; each run covers its whole trailing range (single-run backfill policy), never one run
per partition.
"""

from datetime import datetime, timedelta

import dagster as dg

from tds_platform.defs.partitions import daily_partitions_with_current, hourly_partitions_with_current
from tds_platform.defs.rollups.levels import DAY, HOUR, MINUTE, floor_to_bucket
from tds_platform.defs.rollups.settings import RollupSettings
from tds_platform.defs.run_queue import Lane, lane_tags

# Dagster's run tags for a partition range executed as one run (the UI's single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# Each step is one SQL statement: running steps in the run's own process saves a Python start-up
# per step (~20 s on a busy 2-core machine) for no loss of parallelism (the steps are a chain).
refresh_rollups_job = dg.define_asset_job(
    "refresh_rollups", selection=[MINUTE.name, HOUR.name], partitions_def=hourly_partitions_with_current,
    tags=lane_tags(Lane.ROLLUPS), executor_def=dg.in_process_executor,
    description="Refresh the 1-minute and 1-hour rollups over a window.",
)
refresh_daily_rollups_job = dg.define_asset_job(
    "refresh_daily_rollups", selection=[DAY.name], partitions_def=daily_partitions_with_current,
    tags=lane_tags(Lane.ROLLUPS), executor_def=dg.in_process_executor,
    description="Refresh the 1-day rollups over a window.",
)


def trailing_range(partitions_def: dg.TimeWindowPartitionsDefinition, width: timedelta, now: datetime,
                   count: int) -> dg.PartitionKeyRange:
    """The `count` partitions of `width` ending with the running one at `now`."""
    running = floor_to_bucket(now, width)
    window = dg.TimeWindow(max(running - (count - 1) * width, partitions_def.start), running + width)
    return partitions_def.get_partition_key_range_for_time_window(window)


def range_tags(keys: dg.PartitionKeyRange) -> dict[str, str]:
    return {RANGE_START_TAG: keys.start, RANGE_END_TAG: keys.end}


def build_rollup_schedules(settings: RollupSettings) -> list[dg.ScheduleDefinition]:
    @dg.schedule(name="rollup_refresh", cron_schedule="*/5 * * * *", job=refresh_rollups_job,
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Every 5 minutes: rewrite the trailing hours of 1m and 1h rollups (late data).")
    def rollup_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        keys = trailing_range(hourly_partitions_with_current, timedelta(hours=1), context.scheduled_execution_time,
                              settings.trailing_hours)
        return dg.RunRequest(tags=range_tags(keys))

    @dg.schedule(name="daily_rollup_refresh", cron_schedule="*/30 * * * *", job=refresh_daily_rollups_job,
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Every 30 minutes: rewrite the trailing days of 1d rollups.")
    def daily_rollup_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        keys = trailing_range(daily_partitions_with_current, timedelta(days=1), context.scheduled_execution_time,
                              settings.trailing_days)
        return dg.RunRequest(tags=range_tags(keys))

    return [rollup_refresh, daily_rollup_refresh]
