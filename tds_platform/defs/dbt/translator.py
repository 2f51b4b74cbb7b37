"""How the dbt project appears in the Dagster graph: sources are the platform's own assets, marts
are `analytics/<model>` refreshed after their upstream partitions. Must never invent source keys.

The upstream keys are a contract with the rollup and quality domains: single-segment asset keys
named like the tables. A source not listed here fails loading instead of dangling in the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

# dbt source table -> the Dagster asset that writes it.
UPSTREAM_ASSET_KEYS: Mapping[str, dg.AssetKey] = {
    name: dg.AssetKey(name)
    for name in ("telemetry_1h", "telemetry_1d", "quality_hourly", "gaps", "equipment", "metric_spec")
}
# Not time-partitioned: an update says nothing about which days changed, so it must not trigger a
# refresh of every day (gaps change together with quality_hourly, which does trigger).
CONTEXT_ASSET_KEYS = (UPSTREAM_ASSET_KEYS["gaps"], UPSTREAM_ASSET_KEYS["equipment"], UPSTREAM_ASSET_KEYS["metric_spec"])
MART_KEY_PREFIX = "analytics"
GROUP_NAME = "analytics"

# eager() without its latest-window restriction: a day whose upstream partitions are re-run (a
# gap backfill three days back) is refreshed too, not only the newest day.
REFRESH_AFTER_UPSTREAM = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated().ignore(
        dg.AssetSelection.assets(*CONTEXT_ASSET_KEYS))).since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(*CONTEXT_ASSET_KEYS))
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
