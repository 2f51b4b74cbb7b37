"""The quality definitions (ARCHITECTURE.md#quality-definitions) over the ground-truth fleet (conftest.py),
on both editions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from tds_platform.quality.measure import Window, WindowQuality, measure_window

HOUR = timedelta(hours=1)
FIGURES = ["interval_s", "expected", "received", "good", "coverage_pct", "good_pct", "gap_count", "longest_gap_s"]

# hour 10:00-11:00, judged at 11:30. (tenant, equipment, metric):
# interval_s, expected, received, good, coverage_pct, good_pct, gap_count, longest_gap_s
HOUR_10 = {
    ("acme", "chiller-1", "temp"): (10, 360, 331, 315, 100 * 331 / 360, 100 * 315 / 331, 1, 300),
    ("acme", "chiller-1", "pressure"): (60, 60, 41, 41, 100 * 41 / 60, 100, 1, 3000),  # open since 10:40
    ("acme", "pump-7", "flow"): (30, 90, 90, 90, 100, 100, 0, None),  # counted from its first reading, 10:15
    ("acme", "pump-7", "speed"): (15, 240, 239, 239, 100 * 239 / 240, 100, 0, None),  # median of 10 s and 20 s
    ("acme", "pump-7", "pressure"): (10, 360, 331, 331, 100 * 331 / 360, 100, 1, 900),  # 10:55 -> 11:10, whole
    ("acme", "meter-3", "energy"): (60, 60, 50, 50, 100 * 50 / 60, 100, 1, 660),
    ("acme", "meter-3", "status"): (None, None, 1, 1, None, 100, 0, None),  # one reading: interval unknown
    ("globex", "chiller-1", "temp"): (10, 360, 360, 360, 100, 100, 0, None),
}
# hour 11:00-12:00, still running at 11:30
HOUR_11 = {
    ("acme", "chiller-1", "temp"): (10, 180, 180, 180, 100, 100, 0, None),
    ("acme", "chiller-1", "pressure"): (60, 30, 0, 0, 0, None, 1, 3000),  # silent all along: still open
    ("acme", "pump-7", "pressure"): (10, 180, 120, 120, 100 * 120 / 180, 100, 1, 900),
    ("acme", "meter-3", "voltage"): (60, 20, 20, 20, 100, 100, 0, None),  # from its first reading, 11:10
    ("acme", "meter-3", "status"): (None, None, 0, 0, None, None, 0, None),
}
# hour 09:00-10:00: only the series that had started
HOUR_9 = {
    ("acme", "chiller-1", "temp"): (10, 360, 360, 360, 100, 100, 0, None),
    ("acme", "chiller-1", "pressure"): (60, 60, 60, 60, 100, 100, 0, None),
    ("acme", "pump-7", "pressure"): (10, 360, 360, 360, 100, 100, 0, None),
    ("acme", "meter-3", "energy"): (60, 60, 60, 60, 100, 100, 0, None),
}


def _plain(value: Any) -> Any:
    return None if value is None or pd.isna(value) else value


def _assert_figures(frame: pd.DataFrame, expected: dict) -> None:
    rows = frame.set_index(["tenant", "equipment", "metric"])
    for key, figures in expected.items():
        got = tuple(_plain(rows.loc[key, c]) for c in FIGURES)
        nulls = tuple(v is None for v in figures)
        assert tuple(v is None for v in got) == nulls, (key, got)
        assert [v for v in got if v is not None] == pytest.approx([v for v in figures if v is not None], rel=1e-12), (
            key, got)


def _measure(fleet: Any, hour: str, now: datetime | None = None, gap_factor: float = 3) -> WindowQuality:
    start = fleet.at(hour)
    with fleet.engine.connect() as conn:
        return measure_window(conn, Window(start, start + HOUR, now or fleet.now), gap_factor=gap_factor)


def _keys(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(frame["tenant"], frame["equipment"], frame["metric"], strict=True))


def test_complete_hour_matches_ground_truth(fleet: Any) -> None:
    quality = _measure(fleet, "10:00:00")
    assert _keys(quality.series) == set(HOUR_10)
    _assert_figures(quality.series, HOUR_10)
    sites = quality.series.set_index(["tenant", "equipment", "metric"])["site"]
    assert sites[("acme", "meter-3", "energy")] == "plant-2"
    assert sites[("globex", "chiller-1", "temp")] == "north"


def test_gaps_overlapping_the_hour_are_seen_whole(fleet: Any) -> None:
    at = fleet.at
    found = {(g.equipment, g.metric, g.gap_start, _plain(g.gap_end), g.duration_s)
             for g in _measure(fleet, "10:00:00").gaps.itertuples()}
    assert found == {
        ("chiller-1", "temp", at("10:20:00"), at("10:25:00"), 300),
        ("chiller-1", "pressure", at("10:40:00"), None, 3000),
        ("pump-7", "pressure", at("10:55:00"), at("11:10:00"), 900),
        ("meter-3", "energy", at("10:29:00"), at("10:40:00"), 660),
    }


def test_running_hour_counts_only_up_to_now(fleet: Any) -> None:
    quality = _measure(fleet, "11:00:00")
    _assert_figures(quality.series, HOUR_11)
    crossing = quality.gaps.set_index(["equipment", "metric"]).loc[("pump-7", "pressure")]
    assert crossing["gap_start"] == fleet.at("10:55:00")  # the same gap hour 10 saw


def test_hour_before_a_series_starts_leaves_it_out(fleet: Any) -> None:
    quality = _measure(fleet, "09:00:00")
    assert _keys(quality.series) == set(HOUR_9)
    _assert_figures(quality.series, HOUR_9)
    assert quality.gaps.empty


def test_gap_factor_decides_what_is_a_gap(fleet: Any) -> None:
    # x40: 300 s < 400 s (temp) and 660 s < 2400 s (energy) are no longer gaps; 900 s > 400 s and
    # 3000 s > 2400 s still are.
    quality = _measure(fleet, "10:00:00", gap_factor=40)
    assert set(zip(quality.gaps["equipment"], quality.gaps["metric"], strict=True)) == {
        ("pump-7", "pressure"), ("chiller-1", "pressure")}


def test_late_data_changes_the_figures(fleet: Any) -> None:
    fleet.land_late_energy()
    quality = _measure(fleet, "10:00:00")
    _assert_figures(quality.series, {("acme", "meter-3", "energy"): (60, 60, 60, 60, 100, 100, 0, None)})
    assert "energy" not in set(quality.gaps["metric"])


def test_now_before_the_window_measures_nothing(fleet: Any) -> None:
    quality = _measure(fleet, "11:00:00", now=fleet.at("10:30:00"))
    assert quality.series.empty
    assert quality.gaps.empty


def test_window_rejects_naive_or_reversed_bounds() -> None:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 1, 1), datetime.now(UTC))
    with pytest.raises(ValueError, match="not before"):
        Window(start, start, start)
