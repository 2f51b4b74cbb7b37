"""The marts equal the same figures recomputed here from the readings and gaps the fleet was given."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from tds_platform.db.urls import libpq_url
from tests.dbt_metrics.conftest import REGISTER_EQUIPMENT, REGISTER_METRIC, build_marts

MARTS = ("equipment_hourly", "equipment_daily", "equipment_availability", "data_quality_scorecard",
         "site_daily_kpis")
MARTS_DIR = Path(__file__).resolve().parents[2] / "dbt_metrics" / "models" / "marts"
EXPECTED_PER_HOUR = 6


def same(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)


def figures(readings: Iterable) -> dict:
    readings = sorted(readings, key=lambda r: r.ts)
    values = [r.value for r in readings]
    good = sum(1 for r in readings if r.quality == 0)
    if not values:
        return {"n": 0, "min": None, "max": None, "avg": None, "sum": None, "first": None, "last": None,
                "received": 0, "good": 0}
    return {"n": len(values), "min": min(values), "max": max(values), "avg": sum(values) / len(values),
            "sum": sum(values), "first": values[0], "last": values[-1], "received": len(values), "good": good}


def coverage(received: float, expected: float) -> float | None:
    return 100 * min(received / expected, 1) if expected else None


def good_pct(good: float, received: float) -> float | None:
    return 100 * good / received if received else None


def hours_of(series, fleet) -> list[datetime]:
    start = series.first_seen.replace(minute=0)
    end = fleet.days[-1] + timedelta(days=1)
    return [start + timedelta(hours=i) for i in range(int((end - start) / timedelta(hours=1)))]


def test_equipment_hourly_matches_the_readings(fleet):
    rows = {(r["tenant"], r["equipment"], r["metric"], r["hour"]): r
            for r in fleet.query("SELECT * FROM analytics.equipment_hourly")}
    expected_keys = set()
    for series in fleet.series:
        for hour in hours_of(series, fleet):
            key = (series.tenant, series.equipment, series.metric, hour)
            expected_keys.add(key)
            readings = fleet.of(series.equipment, series.metric)
            want = figures(r for r in readings if hour <= r.ts < hour + timedelta(hours=1))
            got = rows[key]
            for column in ("n", "min", "max", "avg", "sum", "first", "last", "received", "good"):
                assert same(got[column], want[column]), (key, column, got[column], want[column])
            assert same(got["coverage_pct"], coverage(want["received"], EXPECTED_PER_HOUR)), key
            assert same(got["good_pct"], good_pct(want["good"], want["received"])), key
            assert got["site"] == series.site
    assert set(rows) == expected_keys
    # An hour inside a gap is still a row, with nothing received.
    silent = rows[("acme", "chiller-1", "temp", datetime.fromisoformat("2026-03-01T11:00:00+00:00"))]
    assert (silent["n"], silent["coverage_pct"], silent["min"]) == (0, 0, None)


def test_equipment_daily_matches_the_readings(fleet):
    rows = {(r["tenant"], r["equipment"], r["metric"], r["day"]): r
            for r in fleet.query("SELECT * FROM analytics.equipment_daily")}
    assert len(rows) == len(fleet.series) * len(fleet.days)
    for series in fleet.series:
        for day in fleet.days:
            key = (series.tenant, series.equipment, series.metric, day.date())
            readings = fleet.of(series.equipment, series.metric)
            want = figures(r for r in readings if day <= r.ts < day + timedelta(days=1))
            expected = EXPECTED_PER_HOUR * sum(1 for h in hours_of(series, fleet) if day <= h < day + timedelta(days=1))
            got = rows[key]
            for column in ("n", "min", "max", "avg", "sum", "first", "last", "received", "good"):
                assert same(got[column], want[column]), (key, column, got[column], want[column])
            assert same(got["expected"], expected), key
            assert same(got["coverage_pct"], coverage(want["received"], expected)), key
            assert same(got["good_pct"], good_pct(want["good"], want["received"])), key
    energy = rows[("acme", "meter-3", "energy_kwh", fleet.days[0].date())]
    assert (energy["unit"], energy["last"] - energy["first"]) == ("kWh", 357.5)


Interval = tuple[datetime, datetime]


def _minutes(intervals: list[Interval]) -> float:
    return sum((end - start).total_seconds() for start, end in intervals) / 60


def _union(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    return [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b if max(s1, s2) < min(e1, e2)]


def availability(fleet) -> dict:
    """Per (tenant, equipment, day): observed, any-metric gap and all-metrics silent minutes, gap count."""
    result = {}
    by_equipment = defaultdict(list)
    for series in fleet.series:
        by_equipment[(series.tenant, series.equipment)].append(series)
    for (tenant, equipment), metrics in by_equipment.items():
        for day in fleet.days:
            observed = (max(day, metrics[0].first_seen), day + timedelta(days=1))
            per_metric = [_union([part for start, end in series.gaps
                                  for part in _intersect([(start, end or observed[1])], [observed])])
                          for series in metrics]
            any_gap = _union([iv for intervals in per_metric for iv in intervals])
            all_silent = per_metric[0]
            for intervals in per_metric[1:]:
                all_silent = _intersect(all_silent, intervals)
            gap_count = sum(1 for series in metrics for s, e in series.gaps
                            if s < observed[1] and (e is None or e > observed[0]))
            result[(tenant, equipment, day.date())] = {
                "observed_minutes": _minutes([observed]), "gap_minutes": _minutes(any_gap),
                "silent_minutes": _minutes(all_silent), "gap_count": gap_count,
            }
    return result


def test_equipment_availability_matches_the_gaps(fleet):
    rows = {(r["tenant"], r["equipment"], r["day"]): r
            for r in fleet.query("SELECT * FROM analytics.equipment_availability")}
    want = availability(fleet)
    assert set(rows) == set(want)
    for key, figures_ in want.items():
        got = rows[key]
        for column, value in figures_.items():
            assert same(got[column], value), (key, column, got[column], value)
        uptime = 100 * (figures_["observed_minutes"] - figures_["silent_minutes"]) / figures_["observed_minutes"]
        assert same(got["uptime_pct"], uptime), key
    # chiller-1's two metrics overlap one hour: three hours with a gap, one hour silent.
    chiller = rows[("acme", "chiller-1", fleet.days[0].date())]
    assert (chiller["gap_minutes"], chiller["silent_minutes"]) == (180, 60)
    # globex's open gap runs to the end of the (past) day; its first day starts at first_seen.
    assert rows[("globex", "chiller-9", fleet.days[1].date())]["gap_minutes"] == 180 + 120
    assert rows[("globex", "chiller-9", fleet.days[0].date())]["observed_minutes"] == 18 * 60


def scorecard(fleet) -> dict:
    gaps = availability(fleet)
    result = {}
    for (tenant, equipment, day), figures_ in gaps.items():
        mine = [r for r in fleet.of(equipment) if r.series.tenant == tenant and r.ts.date() == day]
        hours = sum(1 for series in fleet.series if series.equipment == equipment
                    for h in hours_of(series, fleet) if h.date() == day)
        good = sum(1 for r in mine if r.quality == 0)
        result[(tenant, equipment, day)] = {
            "expected": EXPECTED_PER_HOUR * hours, "received": len(mine), "good": good,
            "quality_score": coverage(good, EXPECTED_PER_HOUR * hours), **figures_,
        }
    for (tenant, _, day), row in result.items():
        fleet_day = [r for (t, _, d), r in result.items() if (t, d) == (tenant, day)]
        row["worst_rank"] = 1 + sum(
            1 for other in fleet_day
            if (other["quality_score"], -other["gap_minutes"]) < (row["quality_score"], -row["gap_minutes"])
        )
    return result


def test_scorecard_ranks_the_worst_equipment_per_tenant_and_day(fleet):
    rows = {(r["tenant"], r["equipment"], r["day"]): r
            for r in fleet.query("SELECT * FROM analytics.data_quality_scorecard")}
    want = scorecard(fleet)
    assert set(rows) == set(want)
    for key, row in want.items():
        got = rows[key]
        for column in ("expected", "received", "good", "quality_score", "gap_minutes", "worst_rank"):
            assert same(got[column], row[column]), (key, column, got[column], row[column])
        assert same(got["coverage_pct"], coverage(row["received"], row["expected"])), key
        assert same(got["good_pct"], good_pct(row["good"], row["received"])), key
    assert rows[("acme", "chiller-1", fleet.days[0].date())]["worst_rank"] == 1
    assert rows[("acme", "pump-2", fleet.days[1].date())]["worst_rank"] == 1


def test_site_daily_kpis_sum_the_sites_equipment(fleet):
    rows = {(r["tenant"], r["site"], r["day"]): r for r in fleet.query("SELECT * FROM analytics.site_daily_kpis")}
    cards = scorecard(fleet)
    site_of = {(s.tenant, s.equipment): s.site for s in fleet.series}
    sites = defaultdict(list)
    for (tenant, equipment, day), card in cards.items():
        sites[(tenant, site_of[(tenant, equipment)], day)].append((equipment, card))
    assert set(rows) == set(sites)
    for key, members in sites.items():
        got = rows[key]
        expected = sum(c["expected"] for _, c in members)
        received = sum(c["received"] for _, c in members)
        good = sum(c["good"] for _, c in members)
        uptimes = [100 * (c["observed_minutes"] - c["silent_minutes"]) / c["observed_minutes"] for _, c in members]
        worst = min(members, key=lambda m: (m[1]["quality_score"], -m[1]["gap_minutes"]))[0]
        assert got["equipment_count"] == len(members), key
        assert same(got["received"], received), key
        assert same(got["coverage_pct"], coverage(received, expected)), key
        assert same(got["good_pct"], good_pct(good, received)), key
        assert same(got["uptime_pct"], sum(uptimes) / len(uptimes)), key
        assert same(got["gap_minutes"], sum(c["gap_minutes"] for _, c in members)), key
        assert got["worst_equipment"] == worst, key


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_column_is_documented(fleet, mart):
    [model] = yaml.safe_load((MARTS_DIR / f"{mart}.yml").read_text())["models"]  # one yml per model
    documented = {model["name"]: [c["name"] for c in model["columns"]]}
    columns = [r["column_name"] for r in fleet.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' AND table_name = %(t)s"
        " ORDER BY ordinal_position", {"t": mart})]
    assert columns == documented[mart]


def test_an_equipment_seen_minutes_before_the_build_is_up_100_percent_exactly(new_database, tmp_path):
    """Seen under `make up`: observed for 200.964459 s (3.3494076500000003 minutes) and never silent,
    its uptime_pct came out 100.00000000000001, failed the mart's own range test, and the scorecard
    and site KPIs were never built."""
    url = new_database("dbt")
    day = datetime(2026, 3, 1, tzinfo=UTC)
    first_seen = day + timedelta(days=1) - timedelta(microseconds=200_964_459)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(REGISTER_EQUIPMENT, ("acme", "chiller-1", "north", first_seen))
        conn.execute(REGISTER_METRIC, ("acme", "chiller-1", "temp", None, first_seen))

    results = build_marts(url, tmp_path, day, day + timedelta(days=1))

    failed = [result["unique_id"] for result in results["results"] if result["status"] not in ("success", "pass")]
    assert not failed
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("SELECT uptime_pct FROM analytics.equipment_availability").fetchall() == [(100.0,)]
