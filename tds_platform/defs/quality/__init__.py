"""Quality: quality_hourly and gaps with their checks, the series_intervals they are judged by, GX
suites on the rollups, and the schedule and sensor that run them.

Thresholds come from `QualitySettings` (TDS_QUALITY_*); this package never writes raw readings
or rollups, only tds.quality_hourly, tds.gaps and the remembered intervals in tds.metric_spec.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.quality.assets import build_quality_assets
from tds_platform.defs.quality.expectations import build_rollup_expectations_checks
from tds_platform.defs.quality.intervals import series_intervals, series_intervals_job, series_intervals_needed
from tds_platform.defs.quality.schedules import build_quality_schedule, quality_job
from tds_platform.quality.settings import QualitySettings


def build_defs(quality: QualitySettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[series_intervals, build_quality_assets(quality)],
        asset_checks=build_rollup_expectations_checks(quality),
        jobs=[series_intervals_job, quality_job],
        schedules=[build_quality_schedule(quality)],
        sensors=[series_intervals_needed],
    )
