"""The code location loads, and everything the UI must show is there and connected.

Domains add their names here as they land (the dbt marts extend the lineage check).
"""

import dagster as dg
import pytest

from tds_platform.definitions import defs

ASSETS = {"telemetry", "dlq", "equipment", "metric_spec", "telemetry_1m", "telemetry_1h", "telemetry_1d"}
JOBS = {"refresh_rollups", "refresh_daily_rollups", "apply_retention", "observe_sources"}
SCHEDULES = {"rollup_refresh": "*/5 * * * *", "daily_rollup_refresh": "*/30 * * * *",
             "retention_daily": "30 3 * * *", "observe_sources": "*/5 * * * *"}
SENSORS = {"equipment_freshness", "run_failure_alerts", "run_recovery_alerts"}
LINEAGE = [("telemetry", "telemetry_1m"), ("telemetry_1m", "telemetry_1h"), ("telemetry_1h", "telemetry_1d"),
           ("equipment", "metric_spec")]


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    dg.Definitions.validate_loadable(defs)
    return defs.get_repository_def()


def test_every_asset_job_schedule_and_sensor_loads(repository: dg.RepositoryDefinition) -> None:
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} >= ASSETS
    assert {job.name for job in repository.get_all_jobs()} >= JOBS
    schedules = {schedule.name: schedule for schedule in repository.schedule_defs}
    assert {name: schedules[name].cron_schedule for name in SCHEDULES} == SCHEDULES
    assert all(schedules[name].default_status is dg.DefaultScheduleStatus.RUNNING for name in SCHEDULES)
    sensors = {sensor.name: sensor for sensor in repository.sensor_defs}
    assert set(sensors) >= SENSORS
    assert all(sensors[name].default_status is dg.DefaultSensorStatus.RUNNING for name in SENSORS)
    assert "database" in repository.get_top_level_resources()
    for name in JOBS:  # one SQL statement per step: no subprocess per step
        assert repository.get_job(name).executor_def is dg.in_process_executor


def test_lineage_is_connected_from_landing_to_daily_rollups() -> None:
    graph = defs.resolve_asset_graph()
    for upstream, downstream in LINEAGE:
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys, (upstream, downstream)


def test_rollups_are_partitioned_single_run_and_declare_freshness() -> None:
    graph = defs.resolve_asset_graph()
    for name, partitions in (("telemetry_1m", "hourly"), ("telemetry_1h", "hourly"), ("telemetry_1d", "daily")):
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "rollups"
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
        assert node.freshness_policy is not None
        width = {"hourly": "0 * * * *", "daily": "0 0 * * *"}[partitions]
        assert node.partitions_def.get_cron_schedule() == width
    for name in ("telemetry", "dlq", "equipment", "metric_spec"):
        assert graph.get(dg.AssetKey(name)).group_name == "landing"
    assert graph.get(dg.AssetKey("telemetry")).is_observable
