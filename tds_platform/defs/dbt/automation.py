"""The sensor that evaluates the marts' automation condition, running from the first start.

Dagster's implicit default sensor starts stopped; without this one the marts would wait for
someone to find a toggle. It must only target the marts, never another domain's assets.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.dbt.translator import GROUP_NAME

marts_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_marts_automation",
    target=dg.AssetSelection.groups(GROUP_NAME),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Refreshes a day's analytics marts after its upstream partitions are (re)materialized.",
)
