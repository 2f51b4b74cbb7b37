"""The quality multi-asset in a real Dagster run: tables written, checks pass/fail, re-runs, ranges."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
from sqlalchemy import text

from tds_platform.defs.quality.assets import build_quality_assets
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
QUALITY = text("""
SELECT hour, tenant, site, equipment, metric, expected, received, good, coverage_pct, good_pct, gap_count,
       longest_gap_s, expected_interval_s, computed_at
FROM tds.quality_hourly ORDER BY hour, equipment
""")
GAPS = text("SELECT id, equipment, gap_start, gap_end, duration_s, detected_at, cleared_at FROM tds.gaps ORDER BY id")


def _materialize(plant: Any, settings: QualitySettings | None = None, *, partition: str | None = None,
                 tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_quality_assets(settings or QualitySettings())],
        resources={"database": DatabaseResource(url=plant.url)},
        run_config={"ops": {"quality": {"config": {"now": plant.now.isoformat()}}}},
        partition_key=None if tags else (partition or plant.partition), tags=tags,
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _rows(plant: Any, query: Any) -> list[tuple]:
    with plant.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def test_faulty_equipment_fails_every_check_by_name(faulty_plant: Any) -> None:
    checks = _checks(_materialize(faulty_plant))
    assert {name: c.passed for name, c in checks.items()} == {
        "coverage_above_threshold": False, "good_pct_above_threshold": False, "no_long_gap": False}
    coverage = checks["coverage_above_threshold"].metadata
    assert coverage["offending_equipment"].value == ["acme/faulty"]
    [offender] = coverage["offenders"].value
    assert (offender["equipment"], offender["received"], offender["expected"]) == ("faulty", 241, 360)
    assert offender["coverage_pct"] == pytest.approx(100 * 241 / 360)
    [bad] = checks["good_pct_above_threshold"].metadata["offenders"].value
    assert (bad["equipment"], bad["good"]) == ("faulty", 121)
    [gap] = checks["no_long_gap"].metadata["offenders"].value
    assert (gap["equipment"], gap["duration_s"], gap["open"]) == ("faulty", 1200, False)
    assert gap["gap_start"] == "2026-03-01T10:20:00+00:00"
    assert all(c.severity == dg.AssetCheckSeverity.WARN for c in checks.values())


def test_healthy_equipment_passes_and_lands_its_hour(plant: Any) -> None:
    result = _materialize(plant)
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert _rows(plant, QUALITY) == [
        (plant.hour_10, "acme", "plant-1", "healthy", "temp", 360, 360, 360, 100, 100, 0, None, 10, plant.now)]
    assert _rows(plant, GAPS) == []
    quality = result.asset_materializations_for_node("quality")
    assert {m.asset_key.to_user_string() for m in quality} == {"quality_hourly", "gaps"}


def test_thresholds_and_severity_come_from_settings(faulty_plant: Any) -> None:
    lenient = QualitySettings(min_coverage_pct=60, min_good_pct=50, max_gap_s=1800, check_severity="error")
    checks = _checks(_materialize(faulty_plant, lenient))
    assert all(c.passed for c in checks.values())
    strict = QualitySettings(min_coverage_pct=99, check_severity="error")
    assert _checks(_materialize(faulty_plant, strict))["coverage_above_threshold"].severity == (
        dg.AssetCheckSeverity.ERROR)


def test_rerunning_the_partition_changes_nothing(faulty_plant: Any) -> None:
    _materialize(faulty_plant)
    quality, gaps = _rows(faulty_plant, QUALITY), _rows(faulty_plant, GAPS)
    assert len(quality) == 2 and len(gaps) == 1
    _materialize(faulty_plant)
    assert _rows(faulty_plant, QUALITY) == quality
    assert _rows(faulty_plant, GAPS) == gaps


def test_a_range_is_one_run_over_every_hour(faulty_plant: Any) -> None:
    result = _materialize(faulty_plant, tags={RANGE_START_TAG: "2026-03-01-09:00", RANGE_END_TAG: "2026-03-01-11:00"})
    hours = sorted({r[0].hour for r in _rows(faulty_plant, QUALITY)})
    assert hours == [9, 10, 11]  # 11:00 is judged up to now=11:30
    assert len(_rows(faulty_plant, GAPS)) == 1
    gaps = next(m for m in result.asset_materializations_for_node("quality") if m.asset_key == dg.AssetKey("gaps"))
    assert gaps.metadata["new_gaps"].value == 1


def _materialize_as_of(plant: Any, now: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_quality_assets(QualitySettings())], resources={"database": DatabaseResource(url=plant.url)},
        run_config={"ops": {"quality": {"config": {"now": now}}}}, partition_key=plant.partition,
        raise_on_error=False,
    )


def test_now_without_a_zone_is_utc_like_every_other_time_in_config(plant: Any) -> None:
    assert _materialize_as_of(plant, plant.now.replace(tzinfo=None).isoformat()).success
    assert {row[-1] for row in _rows(plant, QUALITY)} == {plant.now}


def test_a_now_that_is_no_time_is_refused_in_one_sentence(plant: Any) -> None:
    result = _materialize_as_of(plant, "soon")
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description.startswith(
        "config now 'soon' is not an ISO 8601 time")
