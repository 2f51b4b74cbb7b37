"""dbt marts for analysts (dbt_metrics/) in the platform's Dagster graph, downstream of rollups and quality.

Only assembles the domain's definitions, never logic of its own. Importing it prepares the dbt
manifest when it is missing or stale (see project.py).
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.dbt.assets import build_analytics_marts
from tds_platform.defs.dbt.automation import marts_automation_sensor
from tds_platform.defs.dbt.project import dbt_project
from tds_platform.defs.dbt.resource import platform_dbt
from tds_platform.defs.dbt.schedules import build_marts_schedule, refresh_marts_job
from tds_platform.defs.resources import DATABASE_URL
from tds_platform.rollups.settings import RollupSettings


def build_defs(rollups: RollupSettings) -> dg.Definitions:
    """The marts rebuild the days the daily rollups rewrite (`TDS_ROLLUP_TRAILING_DAYS`) every 5 minutes."""
    return dg.Definitions(
        assets=[build_analytics_marts(rollups.trailing_days)],
        jobs=[refresh_marts_job],
        schedules=[build_marts_schedule(rollups)],
        sensors=[marts_automation_sensor],
        resources={"dbt": platform_dbt(dbt_project, DATABASE_URL)},
    )
