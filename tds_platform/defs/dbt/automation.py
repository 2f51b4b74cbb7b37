"""The sensor that evaluates the marts' automation condition, running from the first start.

Dagster's implicit default sensor starts stopped; without this one the marts would wait for
someone to find a toggle. It must only target the marts, never another domain's assets.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.dbt.translator import GROUP_NAME
from tds_platform.defs.run_queue import Lane, lane_tags

marts_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_marts_automation",
    target=dg.AssetSelection.groups(GROUP_NAME),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    # The marts lane: one dbt build at a time (two would delete and insert the same days at once).
    run_tags=lane_tags(Lane.MARTS),
    description="Rebuilds an older day's analytics marts after its rollup, quality or gap partitions were re-run "
                "(recent days are rebuilt every 5 minutes by the marts_refresh schedule).",
)
