"""The series_intervals asset in a real Dagster run: it remembers medians as of the last closed hour,
and the quality partition then judges by them."""

from __future__ import annotations

from typing import Any

import dagster as dg
from sqlalchemy import text

from tds_platform.defs.quality.assets import build_quality_assets
from tds_platform.defs.quality.intervals import series_intervals
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings

# As the stream writer registers a series: no expected interval.
UNREGISTER = text("UPDATE tds.metric_spec SET expected_interval_s = NULL WHERE equipment = 'healthy'")
REMEMBERED = text("SELECT inferred_interval_s, inferred_until FROM tds.metric_spec WHERE equipment = 'healthy'")
# A remembered median the quality run would never compute itself: it shows the partition used it.
PRETEND = text("UPDATE tds.metric_spec SET inferred_interval_s = 20 WHERE equipment = 'healthy'")
JUDGED = text("SELECT expected, received, coverage_pct, expected_interval_s FROM tds.quality_hourly")


def _materialize(plant: Any, assets: list, partition: str | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources={"database": DatabaseResource(url=plant.url)},
                          run_config={"ops": {assets[0].op.name: {"config": {"now": plant.now.isoformat()}}}},
                          partition_key=partition)


def test_the_asset_remembers_medians_the_quality_partition_then_uses(plant: Any) -> None:
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    result = _materialize(plant, [series_intervals])
    [materialization] = result.asset_materializations_for_node("series_intervals")
    until = plant.now.replace(minute=0)  # 11:00, the last closed hour
    assert {k: v.value for k, v in materialization.metadata.items()} == {
        "until": until.isoformat(), "series_without_registered_interval": 1, "series_inferred": 1,
        "series_remembered": 1}
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(REMEMBERED).one()) == (10, until)

    with plant.engine.begin() as conn:
        conn.execute(PRETEND)
    _materialize(plant, [build_quality_assets(QualitySettings())], partition=plant.partition)
    with plant.engine.connect() as conn:
        assert tuple(conn.execute(JUDGED).one()) == (180, 360, 100, 20)  # 3600 s / 20 s; none inferred inline


def test_a_rerun_within_the_hour_changes_nothing(plant: Any) -> None:
    with plant.engine.begin() as conn:
        conn.execute(UNREGISTER)
    _materialize(plant, [series_intervals])
    [again] = _materialize(plant, [series_intervals]).asset_materializations_for_node("series_intervals")
    assert again.metadata["series_inferred"].value == 1
    assert again.metadata["series_remembered"].value == 0  # the same moment: the median is already there
