"""The `series_intervals` asset and the sensor that runs it: every series' inferred interval, remembered.

Keeps tds.metric_spec's remembered medians current so the quality partitions judge by a known
interval instead of each reading the last 24 h of every series; it writes only those medians.
A sensor rather than an hourly schedule: it runs the asset as soon as a series lacks a median as
of the last closed hour — when the hour turns, on a platform's first start, and minutes after a
new device's first readings — so a partition that judged such a series pending is re-judged by
the next quality tick, not an hour later.
"""

from datetime import UTC, datetime

import dagster as dg

from tds_platform.defs.quality.assets import SERIES_INTERVALS, TELEMETRY, QualityRunConfig
from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.quality.intervals import judged_as_of, series_without_median
from tds_platform.quality.runner import refresh_intervals

SENSOR_INTERVAL_S = 60


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
        "until": refreshed.until.isoformat(), "series_without_median": refreshed.series,
        "series_inferred": refreshed.inferred, "series_remembered": refreshed.remembered,
    })


series_intervals_job = dg.define_asset_job(
    "series_intervals_job", selection=dg.AssetSelection.assets(SERIES_INTERVALS), tags=lane_tags(Lane.QUALITY),
    description="Infer and remember every series' interval (median spacing of its last 24 h).",
)


@dg.sensor(name="series_intervals_needed", job=series_intervals_job, minimum_interval_seconds=SENSOR_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs series_intervals when a series has no median as of the last closed hour "
                       "(the hour turned, first start, a new device).")
def series_intervals_needed(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult:
    until = judged_as_of(datetime.now(UTC))
    with database.engine().connect() as conn:
        missing = len(series_without_median(conn, until))
    if not missing:
        return dg.SensorResult(skip_reason=f"every series has its median as of {until.isoformat()}")
    # One run per (moment, count): a series that can never have a median (a single reading) asks once
    # an hour, and every newly seen one changes the count and so asks again.
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"{until.isoformat()}/{missing}")])
