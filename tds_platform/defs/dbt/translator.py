"""How the dbt project appears in the Dagster graph: sources are the platform's own assets, marts
are `analytics/<model>` refreshed after their upstream partitions. Must never invent source keys.

The upstream keys are a contract with the rollup and quality domains: single-segment asset keys
named like the tables. A source not listed here fails loading instead of dangling in the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

# dbt source table -> the Dagster asset that writes it.
UPSTREAM_ASSET_KEYS: Mapping[str, dg.AssetKey] = {
    name: dg.AssetKey(name)
    for name in ("telemetry_1h", "telemetry_1d", "quality_hourly", "gaps", "equipment", "metric_spec")
}
# Not time-partitioned: an update says nothing about which days changed, so it refreshes only the
# RECENT_DAYS (gaps change with every quality run; an older day's marts follow its own partitions).
CONTEXT_ASSET_KEYS = (UPSTREAM_ASSET_KEYS["gaps"], UPSTREAM_ASSET_KEYS["equipment"], UPSTREAM_ASSET_KEYS["metric_spec"])
RECENT_DAYS = timedelta(days=2)
MART_KEY_PREFIX = "analytics"
GROUP_NAME = "analytics"

# A day's marts are rebuilt once something they read for that day updated and nothing upstream of
# it is still running. Not eager(), on purpose:
# - no in_latest_time_window() on partitioned inputs: a day whose rollups or quality are re-run (a
#   gap backfill three days back) is refreshed too, not only the newest day;
# - no ~any_deps_missing(): a day whose readings began mid-day never has its earlier hours rolled
#   up, so "every upstream hour materialized" never held and no mart was ever built (seen under
#   `make up`); a day is built from what exists and rebuilt as more lands;
# - no newly_missing(): every past day is missing, and would be built empty.
REFRESH_AFTER_UPSTREAM = (
    (dg.AutomationCondition.any_deps_updated().ignore(dg.AssetSelection.assets(*CONTEXT_ASSET_KEYS))
     | (dg.AutomationCondition.in_latest_time_window(RECENT_DAYS) & dg.AutomationCondition.any_deps_updated())
     ).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("refresh after upstream partitions")


class PlatformDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        name = dbt_resource_props["name"]
        if dbt_resource_props["resource_type"] != "source":
            return dg.AssetKey([MART_KEY_PREFIX, name])
        if name not in UPSTREAM_ASSET_KEYS:
            raise ValueError(f"dbt source {name!r} has no upstream Dagster asset; add it to UPSTREAM_ASSET_KEYS")
        return UPSTREAM_ASSET_KEYS[name]

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP_NAME

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return REFRESH_AFTER_UPSTREAM if dbt_resource_props["resource_type"] == "model" else None
