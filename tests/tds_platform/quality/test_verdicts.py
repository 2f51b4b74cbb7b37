"""Check verdicts over hand-made frames: thresholds, unknowns, offenders and their figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from tds_platform.quality.settings import QualitySettings
from tds_platform.quality.verdicts import coverage_verdict, good_verdict, long_gap_verdict

HOUR = datetime(2026, 3, 1, 10, tzinfo=UTC)
SETTINGS = QualitySettings(min_coverage_pct=90, min_good_pct=90, max_gap_s=600, max_offenders=2)


def _series(*rows: tuple[str, float | None, float | None]) -> pd.DataFrame:
    return pd.DataFrame([{"hour": HOUR, "tenant": "acme", "equipment": e, "metric": "temp", "coverage_pct": c,
                          "good_pct": g, "expected": 360.0, "received": 300, "good": 280} for e, c, g in rows])


def test_coverage_fails_naming_the_worst_first_and_ignores_unknowns() -> None:
    verdict = coverage_verdict(_series(("a", 95, 100), ("b", 50, 100), ("c", 89.9, 100), ("d", None, 100),
                                       ("e", 10, 100)), SETTINGS)
    assert not verdict.passed
    assert verdict.metadata["series_hours_checked"] == 4
    assert verdict.metadata["offender_count"] == 3
    assert [o["equipment"] for o in verdict.metadata["offenders"]] == ["e", "b"]  # worst first, capped at 2
    assert verdict.metadata["offending_equipment"] == ["acme/b", "acme/c"]
    assert verdict.metadata["offenders"][0]["hour"] == HOUR.isoformat()
    assert "3 of 4" in verdict.description


def test_threshold_itself_passes() -> None:
    assert coverage_verdict(_series(("a", 90, 90)), SETTINGS).passed
    assert good_verdict(_series(("a", 90, 90)), SETTINGS).passed
    assert not good_verdict(_series(("a", 90, 89.99)), SETTINGS).passed


def test_long_gaps_include_open_ones() -> None:
    gaps = pd.DataFrame([
        {"tenant": "acme", "equipment": "a", "metric": "temp", "gap_start": HOUR, "gap_end": HOUR, "duration_s": 600.0},
        {"tenant": "acme", "equipment": "b", "metric": "temp", "gap_start": HOUR, "gap_end": None, "duration_s": 900.0},
    ])
    verdict = long_gap_verdict(gaps, SETTINGS)
    assert not verdict.passed
    assert verdict.metadata["offenders"] == [{"tenant": "acme", "equipment": "b", "metric": "temp",
                                              "gap_start": HOUR.isoformat(), "gap_end": None, "duration_s": 900.0,
                                              "open": True}]
    assert long_gap_verdict(gaps.head(1), SETTINGS).passed


def test_a_series_own_threshold_wins_over_the_default() -> None:
    from tds_platform.quality.thresholds import with_thresholds

    own = pd.DataFrame([{"tenant": "acme", "equipment": "a", "metric": "temp", "min_coverage_pct": 80.0,
                         "min_good_pct": None, "max_gap_s": 3600.0},
                        {"tenant": "acme", "equipment": "b", "metric": "temp", "min_coverage_pct": 99.0,
                         "min_good_pct": 99.5, "max_gap_s": None}])
    series = with_thresholds(_series(("a", 85, 85), ("b", 95, 99), ("c", 85, 95)), own, SETTINGS)
    coverage = coverage_verdict(series, SETTINGS)
    assert [(o["equipment"], o["min_coverage_pct"]) for o in coverage.metadata["offenders"]] == [
        ("c", 90.0), ("b", 99.0)]  # a: 85 % is enough for it
    assert [o["equipment"] for o in good_verdict(series, SETTINGS).metadata["offenders"]] == ["a", "b"]
    gaps = with_thresholds(pd.DataFrame([
        {"tenant": "acme", "equipment": e, "metric": "temp", "gap_start": HOUR, "gap_end": None, "duration_s": 900.0}
        for e in ("a", "b")]), own, SETTINGS)
    assert long_gap_verdict(gaps, SETTINGS).metadata["offending_equipment"] == ["acme/b"]
