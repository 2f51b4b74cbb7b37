"""Quality: quality_hourly and gaps with their checks, GX suites on the rollups, the hourly schedule.

Thresholds come from `QualitySettings` (TDS_QUALITY_*); this package never writes raw readings
or rollups, only tds.quality_hourly and tds.gaps.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.quality.assets import build_quality_assets
from tds_platform.defs.quality.expectations import build_rollup_expectations_checks
from tds_platform.defs.quality.schedules import quality_job, quality_schedule
from tds_platform.quality.settings import QualitySettings


def build_quality_defs(settings: QualitySettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[build_quality_assets(settings)],
        asset_checks=build_rollup_expectations_checks(settings),
        jobs=[quality_job],
        schedules=[quality_schedule],
    )


defs = build_quality_defs(QualitySettings())
