"""The code location loads, and everything the UI must show is there and connected end to end:
landed telemetry -> rollups and quality -> the analyst marts."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tds_platform.definitions import defs

MARTS = {"analytics/equipment_hourly", "analytics/equipment_daily", "analytics/equipment_availability",
         "analytics/site_daily_kpis", "analytics/data_quality_scorecard"}
ASSETS = {"telemetry", "dlq", "equipment", "metric_spec", "telemetry_1m", "telemetry_1h", "telemetry_1d",
          "quality_hourly", "gaps", *MARTS}
IN_PROCESS_JOBS = {"refresh_rollups", "refresh_daily_rollups", "apply_retention", "observe_sources"}
JOBS = {*IN_PROCESS_JOBS, "quality_hourly_job", "gap_backfill", "dlq_replay", "refresh_marts"}
SCHEDULES = {"rollup_refresh": "*/5 * * * *", "daily_rollup_refresh": "*/30 * * * *",
             "retention_daily": "30 3 * * *", "observe_sources": "*/5 * * * *",
             "quality_hourly_schedule": "*/5 * * * *", "marts_refresh": "2-59/5 * * * *"}
SENSORS = {"equipment_freshness", "dlq_growth", "run_failure_alerts", "run_recovery_alerts", "new_gap_backfills",
           "backfill_answers", "late_landings", "backfill_refresh", "analytics_marts_automation"}
LINEAGE = [("telemetry", "telemetry_1m"), ("telemetry_1m", "telemetry_1h"), ("telemetry_1h", "telemetry_1d"),
           ("equipment", "metric_spec"), ("telemetry", "quality_hourly"), ("telemetry", "gaps"),
           ("telemetry_1h", "analytics/equipment_hourly"), ("quality_hourly", "analytics/equipment_hourly"),
           ("telemetry_1d", "analytics/equipment_daily"), ("gaps", "analytics/equipment_availability"),
           ("analytics/data_quality_scorecard", "analytics/site_daily_kpis")]


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
    for name in IN_PROCESS_JOBS:  # one SQL statement per step: no subprocess per step
        assert repository.get_job(name).executor_def is dg.in_process_executor


def test_lineage_is_connected_from_landing_to_the_marts() -> None:
    graph = defs.resolve_asset_graph()
    for upstream, downstream in LINEAGE:
        parents = graph.get(dg.AssetKey.from_user_string(downstream)).parent_keys
        assert dg.AssetKey.from_user_string(upstream) in parents, (upstream, downstream)
    for mart in MARTS:  # every mart reaches the landed telemetry through the graph
        assert dg.AssetKey("telemetry") in graph.get_ancestor_asset_keys(dg.AssetKey.from_user_string(mart)), mart


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


# Loads the code location and writes its snapshot (what a code server hands the webserver and
# daemon, and what the UI shows) to the file named by argv[1].
SNAPSHOT = """
import sys
from pathlib import Path
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from tds_platform.definitions import defs
Path(sys.argv[1]).write_text(serialize_value(RepositorySnap.from_def(defs.get_repository_def())))
"""


def _snapshot(tmp_path: Path, **env: str) -> str:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("TDS_")}
    out = tmp_path / "snapshot.json"
    done = subprocess.run([sys.executable, "-c", SNAPSHOT, str(out)], env={**clean, **env}, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return out.read_text()


def test_the_code_location_loads_without_the_environment_and_keeps_no_password(tmp_path: Path) -> None:
    """Dagster resolves the database and broker URLs when a run or tick starts: loading needs neither
    (nor a local stack), and when they are set their passwords are nowhere in the snapshot."""
    assert "TDS_DATABASE_URL" in _snapshot(tmp_path, TDS_STACK_DIR=str(tmp_path / "no-stack-here"))
    snapshot = _snapshot(tmp_path, TDS_DATABASE_URL="postgresql://tds_dagster:db-s3cret@db.example:5432/tds",
                         TDS_MQTT_URL="mqtt://tds-platform:mqtt-s3cret@broker.example:1884")
    assert "TDS_DATABASE_URL" in snapshot and "TDS_MQTT_URL" in snapshot
    assert "s3cret" not in snapshot
