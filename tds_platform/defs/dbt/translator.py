"""How the dbt project appears in the Dagster graph: sources are the platform's own assets, marts
are `analytics/<model>`, older days refreshed after their upstream partitions. Must never invent
source keys.

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
# The registry: not partitioned and never materialized by Dagster; an update (a registry import
# reported by hand) says nothing about which days changed, so it must not rebuild every day.
REGISTRY_ASSET_KEYS = (UPSTREAM_ASSET_KEYS["equipment"], UPSTREAM_ASSET_KEYS["metric_spec"])
MART_KEY_PREFIX = "analytics"
GROUP_NAME = "analytics"


def refresh_after_upstream(recent_days: int) -> dg.AutomationCondition:
    """A day older than the `recent_days` the marts schedule rebuilds every 5 minutes is rebuilt once
    a partition it reads for that day was re-materialized (a gap backfill three days back re-runs
    that day's rollups and quality) and nothing upstream of it is still running.

    Not eager(), on purpose: no ~any_deps_missing() on platform assets (a day whose readings began
    mid-day never has its earlier hours rolled up, so "every upstream hour materialized" never held
    and no mart was ever built, seen under `make up`); only among the marts, since a mart built on
    another reads its table, which must exist. And no newly_missing(): every past day is missing,
    and would be built empty."""
    return (
        ~dg.AutomationCondition.in_latest_time_window(timedelta(days=recent_days))
        & dg.AutomationCondition.any_deps_updated().ignore(
            dg.AssetSelection.assets(*REGISTRY_ASSET_KEYS)).since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing().allow(dg.AssetSelection.groups(GROUP_NAME))
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("refresh older days after upstream re-runs")


# Today's marts read hours that do not exist yet (quality judges closed hours, rollups reach the
# running one): without this the backfill daemon refused every request that included today
# ("depends on non-existent partitions"). A beta parameter in dagster 1.13: test_assets'
# test_todays_marts_may_read_hours_that_do_not_exist_yet notices if it goes.
UP_TO_NOW = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)


class PlatformDbtTranslator(DagsterDbtTranslator):
    def __init__(self, recent_days: int) -> None:
        super().__init__()
        self.automation_condition = refresh_after_upstream(recent_days)

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
        return self.automation_condition if dbt_resource_props["resource_type"] == "model" else None

    def get_partition_mapping(self, dbt_resource_props: Mapping[str, Any],
                              dbt_parent_resource_props: Mapping[str, Any]) -> dg.PartitionMapping | None:
        parent = dbt_parent_resource_props
        if parent["resource_type"] == "source" and UPSTREAM_ASSET_KEYS[parent["name"]] in REGISTRY_ASSET_KEYS:
            return None
        return UP_TO_NOW
