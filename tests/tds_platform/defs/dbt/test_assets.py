"""The marts in the Dagster graph: downstream of the platform's assets, checked, partitioned, runnable."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster_dbt import DbtProject

from tds_platform.db.urls import libpq_url
from tds_platform.defs.dbt import build_defs
from tds_platform.defs.dbt.assets import build_analytics_marts, build_args
from tds_platform.defs.dbt.project import dbt_project, manifest_is_current, prepare_manifest
from tds_platform.defs.dbt.resource import platform_dbt
from tds_platform.defs.partitions import (
    daily_partitions_with_current,
    hourly_partitions,
    hourly_partitions_with_current,
)
from tds_platform.marts.dbt_cli import DBT_PROJECT_DIR, dbt_connection_env, process_environment
from tds_platform.rollups.settings import RollupSettings

MARTS = ("equipment_hourly", "equipment_daily", "equipment_availability", "data_quality_scorecard",
         "site_daily_kpis")
# What each mart reads, as the upstream Dagster asset keys the other domains define.
UPSTREAM = {
    "equipment_hourly": {"telemetry_1h", "quality_hourly", "equipment", "metric_spec"},
    "equipment_daily": {"telemetry_1d", "quality_hourly", "equipment", "metric_spec"},
    "equipment_availability": {"gaps", "equipment", "metric_spec"},
    "data_quality_scorecard": {"analytics/equipment_daily", "analytics/equipment_availability", "equipment"},
    "site_daily_kpis": {"analytics/data_quality_scorecard"},
}
# Stand-ins for the assets the rollup and quality domains build, with the keys they promise.
UPSTREAM_STUBS = [
    dg.AssetSpec("telemetry_1h", partitions_def=hourly_partitions_with_current),
    dg.AssetSpec("telemetry_1d", partitions_def=daily_partitions_with_current),
    dg.AssetSpec("quality_hourly", partitions_def=hourly_partitions),
    dg.AssetSpec("gaps", partitions_def=hourly_partitions),
    dg.AssetSpec("equipment"),
    dg.AssetSpec("metric_spec"),
]


defs = build_defs(RollupSettings())
analytics_marts = build_analytics_marts(RollupSettings().trailing_days)


defs = build_defs(RollupSettings())
analytics_marts = build_analytics_marts(RollupSettings().trailing_days)


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["analytics", name])


@pytest.fixture(scope="module")
def platform_graph():
    merged = dg.Definitions.merge(dg.Definitions(assets=UPSTREAM_STUBS), defs)
    dg.Definitions.validate_loadable(merged)
    return merged.resolve_asset_graph()


@pytest.mark.parametrize("mart", MARTS)
def test_each_mart_hangs_under_the_platform_assets_it_reads(platform_graph, mart):
    parents = {key.to_user_string() for key in platform_graph.get(mart_key(mart)).parent_keys}
    assert parents == UPSTREAM[mart]


def test_every_dbt_source_is_a_platform_asset(platform_graph):
    for stub in UPSTREAM_STUBS:
        children = platform_graph.get(stub.key).child_keys
        assert children, f"{stub.key.to_user_string()} feeds no mart"
        assert all(child.path[0] == "analytics" for child in children)


@pytest.mark.parametrize("mart", MARTS)
def test_dbt_tests_show_as_asset_checks_of_each_mart(platform_graph, mart):
    checks = {check.name for check in platform_graph.asset_check_keys if check.asset_key == mart_key(mart)}
    assert any(name.startswith("unique_combination") for name in checks), checks
    assert any(name.startswith("not_null") for name in checks), checks


def test_marts_are_daily_partitioned_backfilled_in_one_run_and_refresh_after_upstream():
    assert analytics_marts.partitions_def == daily_partitions_with_current, "today too, like the daily rollup"
    assert analytics_marts.backfill_policy == dg.BackfillPolicy.single_run()
    for mart in MARTS:
        condition = analytics_marts.specs_by_key[mart_key(mart)].automation_condition
        assert condition.get_label() == "refresh older days after upstream re-runs"
    [sensor] = [s for s in defs.sensors if s.name == "analytics_marts_automation"]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_the_recent_days_are_one_dbt_run_of_every_mart_every_five_minutes():
    [schedule] = [s for s in defs.schedules if s.name == "marts_refresh"]
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 5, 14, 32, tzinfo=UTC))

    [request] = schedule.evaluate_tick(context).run_requests

    assert (schedule.cron_schedule, schedule.default_status) == ("2-59/5 * * * *", dg.DefaultScheduleStatus.RUNNING)
    assert (request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"]) == ("2026-03-04", "2026-03-05")
    job = defs.resolve_job_def("refresh_marts")
    assert job.tags == {"tds/domain": "marts"}
    assert set(job.asset_layer.executable_asset_keys) >= {mart_key(mart) for mart in MARTS}


class MartsAutomation:
    """The marts' automation condition ticking against a real instance, as its sensor does."""

    def __init__(self, now: datetime) -> None:
        self.graph = dg.Definitions.merge(defs, dg.Definitions(assets=UPSTREAM_STUBS))
        self.instance = dg.DagsterInstance.ephemeral()
        self.now = now
        self.cursor = None

    def materialized(self, asset: str | dg.AssetKey, partitions: list[str | None]) -> None:
        for partition in partitions:
            self.instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))

    def tick(self, *marts: str) -> dict[str, set[str]]:
        """The days requested per mart on this tick (marts with none left out); they are then
        materialized, as their run would."""
        selection = dg.AssetSelection.assets(*(mart_key(mart) for mart in marts))
        result = dg.evaluate_automation_conditions(defs=self.graph, instance=self.instance, asset_selection=selection,
                                                   evaluation_time=self.now, cursor=self.cursor)
        self.cursor = result.cursor
        requested = {mart: result.get_requested_partitions(mart_key(mart)) for mart in marts}
        for mart, days in requested.items():
            self.materialized(mart_key(mart), sorted(days))
        return {mart: days for mart, days in requested.items() if days}


NOW = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)  # 2026-03-04 and -05 are the marts schedule's


def test_an_older_day_is_built_once_its_upstream_partitions_updated_even_if_its_readings_began_mid_day():
    automation = MartsAutomation(NOW)
    assert automation.tick("equipment_hourly", "equipment_daily") == {}, "no past day is built empty"

    # A plant whose readings began at 08:00 on 03-02: 00:00-07:00 of that day never get rolled up.
    automation.materialized("telemetry_1h", [f"2026-03-02-{hour:02d}:00" for hour in range(8, 24)])
    assert automation.tick("equipment_hourly", "equipment_daily") == {"equipment_hourly": {"2026-03-02"}}
    assert automation.tick("equipment_hourly", "equipment_daily") == {}, "nothing new: nothing rebuilt"
    automation.materialized("quality_hourly", ["2026-03-02-13:00"])
    automation.materialized("telemetry_1d", ["2026-03-02"])
    assert automation.tick("equipment_hourly", "equipment_daily") == {
        "equipment_hourly": {"2026-03-02"}, "equipment_daily": {"2026-03-02"}}


def test_the_recent_days_are_left_to_the_marts_schedule():
    automation = MartsAutomation(NOW)
    automation.tick("equipment_hourly")

    automation.materialized("telemetry_1h", ["2026-03-04-10:00", "2026-03-05-10:00"])

    assert automation.tick("equipment_hourly") == {}


def test_a_backfilled_past_day_is_rebuilt_and_a_registry_update_rebuilds_nothing():
    automation = MartsAutomation(NOW)
    automation.tick("equipment_hourly", "equipment_availability")

    automation.materialized("telemetry_1h", ["2026-03-01-10:00"])
    automation.materialized("gaps", ["2026-03-02-10:00"])
    automation.materialized("equipment", [None])

    assert automation.tick("equipment_hourly", "equipment_availability") == {
        "equipment_hourly": {"2026-03-01"}, "equipment_availability": {"2026-03-02"}}


def test_a_mart_built_on_another_waits_until_that_one_exists():
    automation = MartsAutomation(NOW)
    marts = ("equipment_daily", "equipment_availability", "data_quality_scorecard")
    automation.tick(*marts)

    automation.materialized("gaps", ["2026-03-02-10:00"])
    assert automation.tick(*marts) == {"equipment_availability": {"2026-03-02"}}, \
        "the scorecard reads analytics.equipment_daily, which was never built"
    automation.tick(*marts)
    automation.materialized("telemetry_1d", ["2026-03-02"])
    assert automation.tick(*marts) == {"equipment_daily": {"2026-03-02"}, "data_quality_scorecard": {"2026-03-02"}}, \
        "built in the same run as the mart it reads"


def test_todays_marts_may_read_hours_that_do_not_exist_yet():
    """Quality judges closed hours only: without this the backfill daemon refused every request for
    today ("depends on non-existent partitions")."""
    for spec in analytics_marts.specs:
        for dep in spec.deps:
            if dep.asset_key.to_user_string() not in {"equipment", "metric_spec"}:
                assert dep.partition_mapping.allow_nonexistent_upstream_partitions, (spec.key, dep.asset_key)


def test_a_partition_range_reaches_dbt_as_window_vars():
    window = dg.TimeWindow(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))
    command, flag, window_vars = build_args(window)
    assert (command, flag) == ("build", "--vars")
    assert json.loads(window_vars) == {"start": "2026-03-01T00:00:00+00:00", "end": "2026-03-08T00:00:00+00:00"}


def test_the_connection_is_split_from_the_platform_url():
    env = dbt_connection_env("postgresql://tds%40ops:p%3Ass%2Fw@db.example:6432/tds?sslmode=require")
    assert env == {"TDS_DBT_HOST": "db.example", "TDS_DBT_PORT": "6432", "TDS_DBT_USER": "tds@ops",
                   "TDS_DBT_PASSWORD": "p:ss/w", "TDS_DBT_DBNAME": "tds", "TDS_DBT_SSLMODE": "require"}
    assert dbt_connection_env("postgresql://u@h/d")["TDS_DBT_PORT"] == "5432"
    with pytest.raises(ValueError, match="names no database"):
        dbt_connection_env("postgresql://u@h:1")


def test_the_connection_lives_in_the_environment_only_while_dbt_starts():
    name = "TDS_DBT_HOST"
    before = os.environ.get(name)
    with process_environment({name: "db.example"}):
        assert os.environ[name] == "db.example"
    assert os.environ.get(name) == before


def test_a_fresh_clone_gets_its_manifest_parsed_and_a_stale_one_is_noticed(tmp_path: Path):
    clone = tmp_path / "dbt_metrics"
    shutil.copytree(DBT_PROJECT_DIR, clone, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=clone)
    assert not manifest_is_current(project)
    manifest = prepare_manifest(project)
    assert "model.tds_metrics.site_daily_kpis" in json.loads(manifest.read_text())["nodes"]
    assert manifest_is_current(project)
    model = clone / "models" / "marts" / "equipment_daily.sql"
    os.utime(model, (manifest.stat().st_mtime + 10, manifest.stat().st_mtime + 10))
    assert not manifest_is_current(project)


# One equipment with one metric over two days: the rollup and quality rows as their assets land them.
FIXTURE = """
INSERT INTO tds.equipment (tenant, equipment, site, first_seen) VALUES ('acme', 'pump-1', 'north', '2026-03-01');
INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s, first_seen)
VALUES ('acme', 'pump-1', 'flow', 600, '2026-03-01');
INSERT INTO tds.telemetry_1d_data (series_id, bucket, n, min, max, avg, sum, first, last)
SELECT series_id, d, 144, 1, 3, 2, 288, 1, 3
FROM tds.metric_spec CROSS JOIN (VALUES ('2026-03-01'::timestamptz), ('2026-03-02')) AS days(d);
INSERT INTO tds.quality_hourly (hour, tenant, site, equipment, metric, expected, received, good, coverage_pct, good_pct)
SELECT h, 'acme', 'north', 'pump-1', 'flow', 6, 6, 6, 100, 100
FROM generate_series('2026-03-01'::timestamptz, '2026-03-02 23:00', interval '1 hour') AS h;
"""
DAILY_ROWS = "SELECT day::text, n FROM analytics.equipment_daily ORDER BY day"
FORGET_DAY_2 = """
DELETE FROM tds.telemetry_1d_data WHERE bucket >= '2026-03-02';
DELETE FROM tds.quality_hourly WHERE hour >= '2026-03-02';
"""


def _materialize(url: str, first_day: str, last_day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [analytics_marts],
        resources={"dbt": platform_dbt(dbt_project, url)},
        tags={"dagster/asset_partition_range_start": first_day, "dagster/asset_partition_range_end": last_day},
    )


def test_a_backfill_builds_its_days_and_a_rerun_replaces_only_its_day(database_url):
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(FIXTURE)
    result = _materialize(database_url, "2026-03-01", "2026-03-02")
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialized == {mart_key(mart) for mart in MARTS}
    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute(DAILY_ROWS).fetchall() == [("2026-03-01", 144), ("2026-03-02", 144)]
        conn.execute(FORGET_DAY_2)
    assert _materialize(database_url, "2026-03-02", "2026-03-02").success
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute(DAILY_ROWS).fetchall() == [("2026-03-01", 144)]
