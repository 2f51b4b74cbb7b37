"""Time partitions shared by rollups, quality and dbt, so a window means the same everywhere, and the
run tags that make a range of them one run.

All partitions are UTC; the first one is configurable (`TDS_PARTITIONS_START`) because a fleet's
history starts when it starts. Window arithmetic lives in `tds_platform.time_windows`; this module
only turns windows into partition keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from tds_platform.rollups.levels import TELEMETRY_1D, TELEMETRY_1H, TELEMETRY_1M
from tds_platform.settings import PlatformSettings
from tds_platform.time_windows import Window

PARTITIONS_START = PlatformSettings().partitions_start
# A datetime, not the string: hourly partitions parse a string start as "%Y-%m-%d-%H:%M" and
# reject a bare date.
_START = datetime.strptime(PARTITIONS_START, "%Y-%m-%d")

# Quality judges closed hours only.
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=_START, timezone="UTC")

# Rollups and marts refresh the hour and day that are still running (end_offset=1), so the newest
# data is queryable minutes after it lands; schedules and automation re-run them until they close.
hourly_partitions_with_current = dg.HourlyPartitionsDefinition(start_date=_START, timezone="UTC", end_offset=1)
daily_partitions_with_current = dg.DailyPartitionsDefinition(start_date=_START, timezone="UTC", end_offset=1)

# A rollup partition is one hour of the 1-minute and 1-hour levels and one UTC day of the daily
# level; the rollup expectation checks share them, so a result shows against the partition it judged.
ROLLUP_PARTITIONS: dict[str, dg.TimeWindowPartitionsDefinition] = {
    TELEMETRY_1M.name: hourly_partitions_with_current,
    TELEMETRY_1H.name: hourly_partitions_with_current,
    TELEMETRY_1D.name: daily_partitions_with_current,
}

# Dagster's run tags for a partition range executed as one run (the UI's single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def key_range(partitions_def: dg.TimeWindowPartitionsDefinition, window: Window) -> dg.PartitionKeyRange:
    """The partitions covering `window`, from the first partition on when the window starts earlier."""
    clipped = dg.TimeWindow(max(window.start, partitions_def.start), window.end)
    return partitions_def.get_partition_key_range_for_time_window(clipped)


def range_tags(keys: dg.PartitionKeyRange) -> dict[str, str]:
    """Tags that make one run of a partition range."""
    return {RANGE_START_TAG: keys.start, RANGE_END_TAG: keys.end}


def range_schedule(name: str, cron: str, job: Any, keys: Callable[[datetime], dg.PartitionKeyRange],
                   description: str) -> dg.ScheduleDefinition:
    """A schedule (UTC, running from the first start) that runs the asset job `job` once over the
    partitions `keys` gives for the tick's time: never one run per partition."""
    @dg.schedule(name=name, cron_schedule=cron, job=job, execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING, description=description)
    def range_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(tags=range_tags(keys(context.scheduled_execution_time)))

    return range_refresh
