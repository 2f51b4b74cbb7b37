"""dbt marts for analysts (dbt_metrics/) in the platform's Dagster graph, downstream of rollups and quality.

Only assembles the domain's definitions, never logic of its own. Importing it prepares the dbt
manifest when it is missing or stale (see project.py).
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.dbt.assets import analytics_marts
from tds_platform.defs.dbt.automation import marts_automation_sensor
from tds_platform.defs.dbt.project import dbt_project
from tds_platform.defs.dbt.resource import platform_dbt
from tds_platform.defs.dbt.schedules import build_marts_schedule, refresh_marts_job
from tds_platform.defs.rollups.settings import RollupSettings
from tds_platform.settings import PlatformSettings

defs = dg.Definitions(
    assets=[analytics_marts],
    jobs=[refresh_marts_job],
    schedules=[build_marts_schedule(RollupSettings())],
    sensors=[marts_automation_sensor],
    resources={"dbt": platform_dbt(dbt_project, PlatformSettings().resolved_database_url())},
)
