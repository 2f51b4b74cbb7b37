"""The quality package's definitions load, with every asset, check, job and schedule in place."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from tds_platform.defs.quality import build_defs
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings

# Loading definitions never connects: any URL will do.
RESOURCES = dg.Definitions(resources={"database": DatabaseResource(url="postgresql://nobody@127.0.0.1:1/none")})


def _repository(quality_defs: dg.Definitions) -> dg.RepositoryDefinition:
    return dg.Definitions.merge(RESOURCES, quality_defs).get_repository_def()


defs = build_defs(QualitySettings())


def test_quality_definitions_are_complete() -> None:
    repo = _repository(defs)
    graph = repo.asset_graph
    assert {dg.AssetKey("quality_hourly"), dg.AssetKey("gaps")} <= set(graph.get_all_asset_keys())
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == {
        ("quality_hourly", "coverage_above_threshold"), ("quality_hourly", "good_pct_above_threshold"),
        ("gaps", "no_long_gap"), ("telemetry_1m", "rollup_expectations"), ("telemetry_1h", "rollup_expectations"),
        ("telemetry_1d", "rollup_expectations"),
    }
    for key in ("quality_hourly", "gaps"):
        node = graph.get(dg.AssetKey(key))
        assert node.group_name == "quality"
        assert node.parent_keys == {dg.AssetKey("telemetry"), dg.AssetKey("series_intervals")}
    intervals = graph.get(dg.AssetKey("series_intervals"))
    assert (intervals.group_name, intervals.parent_keys) == ("quality", {dg.AssetKey("telemetry")})
    assert not intervals.is_partitioned
    assert repo.get_job("quality_hourly_job") is not None
    assert repo.get_schedule_def("quality_hourly_schedule").cron_schedule == "*/5 * * * *"


def test_intervals_are_refreshed_by_a_running_sensor_every_minute() -> None:
    repo = _repository(defs)
    sensor = repo.get_sensor_def("series_intervals_needed")
    assert (sensor.minimum_interval_seconds, sensor.default_status) == (60, dg.DefaultSensorStatus.RUNNING)
    job = repo.get_job(sensor.job_name)
    assert set(job.asset_layer.executable_asset_keys) == {dg.AssetKey("series_intervals")}
    assert not repo.schedule_defs or "series_intervals_schedule" not in {s.name for s in repo.schedule_defs}


@pytest.mark.parametrize(("hours", "first"), [(3, "2026-11-23-07:00"), (5, "2026-11-23-05:00")])
def test_schedule_judges_the_trailing_closed_hours_it_is_given_in_one_run(hours: int, first: str) -> None:
    """The schedule takes its trailing hours from the settings it is built with, not the environment."""
    schedule = _repository(build_defs(QualitySettings(trailing_hours=hours))).get_schedule_def(
        "quality_hourly_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 23, 10, 7, tzinfo=UTC))
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == first
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-23-09:00"


def test_thresholds_show_in_check_descriptions() -> None:
    graph = _repository(build_defs(QualitySettings(min_coverage_pct=80, max_gap_s=600))).asset_graph
    descriptions = {k.name: graph.get_check_spec(k).description for k in graph.asset_check_keys}
    assert "(metric_spec.min_coverage_pct, else 80%)" in descriptions["coverage_above_threshold"]
    assert "600 s" in descriptions["no_long_gap"]
