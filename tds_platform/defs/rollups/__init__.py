"""Rollups in Dagster: the assets telemetry_1m -> telemetry_1h -> telemetry_1d, their refresh jobs and schedules.

The refresh itself is `tds_platform.rollups`; a materialization never writes outside its partition window.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.rollups.assets import build_rollup_assets
from tds_platform.defs.rollups.schedules import (
    build_rollup_schedules,
    refresh_daily_rollups_job,
    refresh_rollups_job,
)
from tds_platform.retention.policy import RetentionSettings
from tds_platform.rollups.settings import RollupSettings


def build_defs(rollups: RollupSettings, retention: RetentionSettings) -> dg.Definitions:
    """`retention` keeps a refresh from reaching past its source's horizon."""
    return dg.Definitions(
        assets=build_rollup_assets(retention),
        jobs=[refresh_rollups_job, refresh_daily_rollups_job],
        schedules=build_rollup_schedules(rollups),
    )
