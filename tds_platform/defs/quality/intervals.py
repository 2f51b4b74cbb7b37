"""The `series_intervals` asset and its hourly schedule: every series' inferred interval, remembered.

Keeps tds.metric_spec's remembered medians current so the quality partitions judge by a known
interval instead of each reading the last 24 h of every series; it writes only those medians.
"""

import dagster as dg

from tds_platform.defs.quality.assets import SERIES_INTERVALS, TELEMETRY, QualityRunConfig
from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.quality.intervals import judged_as_of
from tds_platform.quality.runner import refresh_intervals


@dg.asset(
    key=SERIES_INTERVALS, deps=[TELEMETRY], group_name="quality", kinds={"postgres", "sql"},
    description="tds.metric_spec.inferred_interval_s / inferred_until: for every series without a registered "
                "interval, the median spacing of its readings in the 24 h before the last closed hour. The "
                "quality partitions use it for hours ending within 3 h of that moment.",
)
def series_intervals(config: QualityRunConfig, database: DatabaseResource) -> dg.MaterializeResult:
    # As of the last closed hour, so the newest hour the quality schedule judges and the alerts get
    # exactly the median they would have computed themselves, and a re-run within the hour changes nothing.
    refreshed = refresh_intervals(database.engine(), judged_as_of(config.resolved_now()))
    return dg.MaterializeResult(metadata={
        "until": refreshed.until.isoformat(), "series_without_registered_interval": refreshed.series,
        "series_inferred": refreshed.inferred, "series_remembered": refreshed.remembered,
    })


series_intervals_job = dg.define_asset_job(
    "series_intervals_job", selection=dg.AssetSelection.assets(SERIES_INTERVALS), tags=lane_tags(Lane.QUALITY),
    description="Infer and remember every series' interval (median spacing of its last 24 h).",
)

# Two minutes past the hour: between the quality schedule's 5-minute ticks, so the two never
# share the 2 cores, and after the hour closed.
series_intervals_schedule = dg.ScheduleDefinition(
    name="series_intervals_schedule", cron_schedule="2 * * * *", job=series_intervals_job,
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: remember every series' median spacing as of the last closed hour.",
)
