"""Great Expectations checks on rollup partitions, run by Dagster against stub rollup assets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg
from sqlalchemy import text

from tds_platform.defs.partitions import ROLLUP_PARTITIONS
from tds_platform.defs.quality.expectations import build_rollup_expectations_check
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings
from tds_platform.rollups.levels import TELEMETRY_1D as DAY
from tds_platform.rollups.levels import TELEMETRY_1M as MINUTE
from tds_platform.rollups.levels import RollupLevel

ROLLUP_ROW = text("""
INSERT INTO tds.{table} (series_id, bucket, n, min, max, avg, sum, first, last)
SELECT series_id, :bucket, :n, :min, :max, :avg, :avg * :n, :min, :max
FROM tds.metric_spec WHERE equipment = :equipment
""")
TABLES = {MINUTE.name: "telemetry_1m_data", DAY.name: "telemetry_1d_data"}


def _stub(level: RollupLevel) -> dg.AssetsDefinition:
    """Stands in for the rollup asset another package builds: same key, same partitions."""

    @dg.asset(name=level.name, partitions_def=ROLLUP_PARTITIONS[level.name])
    def rollup() -> None:
        return None

    return rollup


def _add_rows(plant: Any, level: RollupLevel, equipment: str, rows: list[tuple[Any, int, float, float, float]]) -> None:
    insert = text(ROLLUP_ROW.text.format(table=TABLES[level.name]))
    with plant.engine.begin() as conn:
        for bucket, n, low, avg, high in rows:
            conn.execute(insert, {"bucket": bucket, "n": n, "min": low, "avg": avg, "max": high,
                                  "equipment": equipment})


def _check(plant: Any, level: RollupLevel, partition: str) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [_stub(level), build_rollup_expectations_check(level, QualitySettings(check_severity="error"))],
        resources={"database": DatabaseResource(url=plant.url)}, partition_key=partition,
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def _minutes(plant: Any, count: int) -> list[Any]:
    return [plant.hour_10 + timedelta(minutes=m) for m in range(count)]


def test_good_minute_partition_passes(plant: Any) -> None:
    _add_rows(plant, MINUTE, "healthy", [(b, 6, 19.5, 20.0, 20.5) for b in _minutes(plant, 60)])
    _add_rows(plant, MINUTE, "healthy", [(plant.hour_10 + timedelta(hours=1), 0, 99, 0, -99)])  # next partition
    evaluation = _check(plant, MINUTE, plant.partition)
    assert evaluation.passed, evaluation.metadata
    assert evaluation.metadata["rows"].value == 60


def test_crafted_bad_rows_fail_with_their_equipment(faulty_plant: Any) -> None:
    plant = faulty_plant
    good, zero, unordered, too_hot = _minutes(plant, 4)
    _add_rows(plant, MINUTE, "healthy", [(good, 6, 19.5, 20.0, 20.5)])
    _add_rows(plant, MINUTE, "faulty", [(zero, 0, 20.0, 20.0, 20.0), (unordered, 6, 21.0, 20.0, 22.0),
                                        (too_hot, 6, 40.0, 45.0, 75.0)])
    evaluation = _check(plant, MINUTE, plant.partition)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["offending_equipment"].value == ["acme/faulty"]
    failures = {f["expectation"].split("(")[0] + ":" + f["expectation"].split("(")[1].split(",")[0]:
                [o["bucket"] for o in f["offenders"]] for f in evaluation.metadata["failures"].value}
    assert failures == {
        "expect_column_values_to_be_between:column=n": [zero.isoformat()],
        "expect_column_pair_values_a_to_be_greater_than_b:column_A=avg_with_tolerance": [unordered.isoformat()],
        "expect_column_pair_values_a_to_be_greater_than_b:column_A=valid_max": [too_hot.isoformat()],
    }


def test_day_partition_is_read_whole(plant: Any) -> None:
    day = plant.hour_10.replace(hour=0)
    _add_rows(plant, DAY, "healthy", [(day, 8640, 18.0, 20.0, 22.0)])
    evaluation = _check(plant, DAY, "2026-03-01")
    assert evaluation.passed
    assert evaluation.metadata["rows"].value == 1
