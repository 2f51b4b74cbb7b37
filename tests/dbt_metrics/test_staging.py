"""The staging layer: every source table is read once, by an ephemeral staging model the marts build on."""

from __future__ import annotations

import json

from tds_platform.defs.dbt.project import dbt_project

SOURCES = ("equipment", "metric_spec", "telemetry_1h", "telemetry_1d", "quality_hourly", "gaps")


def _models(folder: str) -> dict[str, dict]:
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    return {node["name"]: node for node in nodes if node["resource_type"] == "model" and node["fqn"][1] == folder}


def test_each_source_table_has_one_ephemeral_staging_model_and_no_mart_reads_a_source():
    staging = _models("staging")
    assert {name: node["depends_on"]["nodes"] for name, node in staging.items()} == {
        f"stg_{table}": [f"source.tds_metrics.tds.{table}"] for table in SOURCES}
    assert {node["config"]["materialized"] for node in staging.values()} == {"ephemeral"}
    for name, mart in _models("marts").items():
        assert not [dep for dep in mart["depends_on"]["nodes"] if dep.startswith("source.")], name


def test_the_staging_layer_leaves_nothing_in_the_database_for_an_analyst_to_read(fleet):
    """Ephemeral models are inlined into the marts: no view or table exists that a grant could expose
    or through which rows could bypass the marts' row-level security."""
    relations = fleet.query("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE c.relname LIKE 'stg%%'", url=fleet.admin_url)
    assert relations == []
    assert {r["table_name"] for r in fleet.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")} >= {
        "equipment_hourly", "equipment_daily", "equipment_availability", "data_quality_scorecard", "site_daily_kpis"}
