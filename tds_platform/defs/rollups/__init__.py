"""Rollups: telemetry_1m -> telemetry_1h -> telemetry_1d, their refresh jobs and schedules.

Same table names, columns and numbers on every edition; this package never writes outside the
window it was asked to refresh.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.retention.policy import RetentionSettings
from tds_platform.defs.rollups.assets import build_rollup_assets
from tds_platform.defs.rollups.schedules import (
    build_rollup_schedules,
    refresh_daily_rollups_job,
    refresh_rollups_job,
)
from tds_platform.defs.rollups.settings import RollupSettings

defs = dg.Definitions(
    assets=build_rollup_assets(RetentionSettings()),
    jobs=[refresh_rollups_job, refresh_daily_rollups_job],
    schedules=build_rollup_schedules(RollupSettings()),
)
