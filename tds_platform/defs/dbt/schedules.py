"""The marts job and its schedule: every 5 minutes, rebuild the recent days' marts in one dbt run.

One `dbt build` of every mart over the trailing days, not one per mart as upstream partitions
update: a dbt run costs its process start-up (30-80 s on a busy 2-core machine) whatever it
builds, and mart runs go one at a time. Older days are left to the automation condition.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from tds_platform.defs.dbt.translator import GROUP_NAME
from tds_platform.defs.partitions import daily_partitions_with_current, key_range, range_tags
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.rollups.settings import RollupSettings
from tds_platform.time_windows import DAY, trailing_window

refresh_marts_job = dg.define_asset_job(
    "refresh_marts", selection=dg.AssetSelection.groups(GROUP_NAME), partitions_def=daily_partitions_with_current,
    tags=lane_tags(Lane.MARTS), description="Build every analytics mart over a range of days (one dbt build).",
)


def recent_days(now: datetime, settings: RollupSettings) -> dg.PartitionKeyRange:
    """The days the marts schedule rebuilds: those the daily rollup refresh rewrites, today included."""
    return key_range(daily_partitions_with_current, trailing_window(now, DAY, settings.trailing_days))


def build_marts_schedule(settings: RollupSettings) -> dg.ScheduleDefinition:
    @dg.schedule(name="marts_refresh", cron_schedule="2-59/5 * * * *", job=refresh_marts_job,
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Every 5 minutes, two after the rollup and quality refreshes: rebuild every mart of the "
                             "trailing days (TDS_ROLLUP_TRAILING_DAYS) in one dbt run.")
    def marts_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(tags=range_tags(recent_days(context.scheduled_execution_time, settings)))

    return marts_refresh
