"""The marts job and its schedule: every 5 minutes, rebuild the recent days' marts in one dbt run.

One `dbt build` of every mart over the trailing days, not one per mart as upstream partitions
update: a dbt run costs its process start-up (30-80 s on a busy 2-core machine) whatever it
builds, and mart runs go one at a time. Older days are left to the automation condition.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.dbt.translator import GROUP_NAME
from tds_platform.defs.partitions import daily_partitions_with_current, range_schedule
from tds_platform.defs.rollups.schedules import recent_days
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.rollups.settings import RollupSettings

refresh_marts_job = dg.define_asset_job(
    "refresh_marts", selection=dg.AssetSelection.groups(GROUP_NAME), partitions_def=daily_partitions_with_current,
    tags=lane_tags(Lane.MARTS), description="Build every analytics mart over a range of days (one dbt build).",
)


def build_marts_schedule(settings: RollupSettings) -> dg.ScheduleDefinition:
    """The days the daily rollup refresh rewrites, today included."""
    return range_schedule(
        "marts_refresh", "2-59/5 * * * *", refresh_marts_job, lambda now: recent_days(now, settings),
        "Every 5 minutes, two after the rollup and quality refreshes: rebuild every mart of the trailing days "
        "(TDS_ROLLUP_TRAILING_DAYS) in one dbt run.")
