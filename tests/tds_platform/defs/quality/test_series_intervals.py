"""The series_intervals asset in a real Dagster run: it remembers medians as of the last closed hour,
and the quality partition then judges by them; until it has, the partition judges the series
pending instead of reading 24 h of readings inline. Its sensor asks for it when a median is missing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import text

from tds_platform.defs.quality.assets import build_quality_assets
from tds_platform.defs.quality.intervals import series_intervals, series_intervals_needed
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings

# As the stream writer registers a series: no expected interval.
UNREGISTER = text("UPDATE tds.metric_spec SET expected_interval_s = NULL WHERE equipment = 'healthy'")
REMEMBERED = text("SELECT inferred_interval_s, inferred_until FROM tds.metric_spec WHERE equipment = 'healthy'")
# A remembered median the quality run would never compute itself: it shows the partition used it.
PRETEND = text("UPDATE tds.metric_spec SET inferred_interval_s = 20 WHERE equipment = 'healthy'")
JUDGED = text("SELECT expected, received, coverage_pct, expected_interval_s FROM tds.quality_hourly")


def _materialize(plant: Any, assets: list, partition: str | None = None,
                 now: datetime | None = None) -> dg.ExecuteInProcessResult:
    at = (now or plant.now).isoformat()
    return dg.materialize(assets, resources={"database": DatabaseResource(url=plant.url)},
                          run_config={"ops": {assets[0].op.name: {"config": {"now": at}}}}, partition_key=partition)


def test_the_asset_remembers_medians_the_quality_partition_then_uses(plant: Any) -> None:
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    result = _materialize(plant, [series_intervals])
    [materialization] = result.asset_materializations_for_node("series_intervals")
    until = plant.now.replace(minute=0)  # 11:00, the last closed hour
    assert {k: v.value for k, v in materialization.metadata.items()} == {
        "until": until.isoformat(), "series_without_median": 1, "series_inferred": 1, "series_remembered": 1}
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(REMEMBERED).one()) == (10, until)

    with plant.engine.begin() as conn:
        conn.execute(PRETEND)
    _materialize(plant, [build_quality_assets(QualitySettings())], partition=plant.partition)
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(JUDGED).one()) == (180, 360, 100, 20)  # 3600 s / 20 s; none inferred inline


def test_a_rerun_within_the_hour_reads_nothing_again(plant: Any) -> None:
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    _materialize(plant, [series_intervals])
    [again] = _materialize(plant, [series_intervals]).asset_materializations_for_node("series_intervals")
    assert (again.metadata["series_without_median"].value, again.metadata["series_inferred"].value) == (0, 0)


def test_a_cold_partition_judges_the_series_pending_instead_of_inferring_inline(plant: Any) -> None:
    """Nothing remembered (a first start): the newest hour is judged without an interval and without
    reading the 24 h, and says so; once series_intervals has run, the same hour gets its figures."""
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    quality = build_quality_assets(QualitySettings())
    cold = _materialize(plant, [quality], partition=plant.partition)
    [hourly] = [m for m in cold.asset_materializations_for_node("quality") if m.asset_key.path == ["quality_hourly"]]
    assert hourly.metadata["series_hours_without_interval"].value == 1
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(JUDGED).one()) == (None, 360, None, None)  # received, nothing judged by interval
        assert tuple(conn.execute(REMEMBERED).one()) == (None, None)  # and nothing inferred inline

    _materialize(plant, [series_intervals])
    warm = _materialize(plant, [quality], partition=plant.partition)
    [hourly] = [m for m in warm.asset_materializations_for_node("quality") if m.asset_key.path == ["quality_hourly"]]
    assert hourly.metadata["series_hours_without_interval"].value == 0
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(JUDGED).one()) == (360, 360, 100, 10)


def test_an_hour_older_than_the_asset_serves_still_infers_its_own(plant: Any) -> None:
    """A quality backfill of history: no run of series_intervals will remember a median as of that
    hour, so the partition infers it as before (and remembers it)."""
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    _materialize(plant, [build_quality_assets(QualitySettings())], plant.partition, now=plant.now + timedelta(hours=5))
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(JUDGED).one())[2:] == (100, 10)
        assert tuple(conn.execute(REMEMBERED).one()) == (10, plant.hour_10 + timedelta(hours=1))


@pytest.fixture
def sensor_context(plant: Any) -> dg.SensorEvaluationContext:
    return dg.build_sensor_context(resources={"database": DatabaseResource(url=plant.url)})


def test_the_sensor_asks_once_per_missing_median_and_not_when_all_are_known(plant: Any,
                                                                            sensor_context: Any) -> None:
    first = series_intervals_needed(sensor_context)
    assert first.skip_reason  # the plant's one series has a registered interval
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    [request] = series_intervals_needed(sensor_context).run_requests
    assert request.run_key.endswith("/1")
    assert [r.run_key for r in series_intervals_needed(sensor_context).run_requests] == [request.run_key]
