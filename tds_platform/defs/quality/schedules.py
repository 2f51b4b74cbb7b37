"""The quality job and its hourly schedule: judge each hour once it has closed.

Runs at minute 5 so readings of the hour's last seconds have landed; it never judges the hour
still running (the partitions end at the last complete hour).
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.partitions import hourly_partitions
from tds_platform.defs.quality.assets import GAPS, QUALITY_HOURLY

quality_job = dg.define_asset_job(
    "quality_hourly_job", selection=dg.AssetSelection.assets(QUALITY_HOURLY, GAPS), partitions_def=hourly_partitions,
    tags={"tds/domain": "quality"}, description="Judge coverage, good-percentage and gaps of an hour (or a range).",
)

quality_schedule = dg.build_schedule_from_partitioned_job(
    quality_job, name="quality_hourly_schedule", minute_of_hour=5,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour at :05, judge the hour that just closed.",
)
