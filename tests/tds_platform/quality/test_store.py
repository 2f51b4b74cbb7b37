"""Writing quality figures and tracking gaps across runs, over the ground-truth fleet (both editions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from tds_platform.quality.measure import Window, measure_window
from tds_platform.quality.store import GapChanges, record_gaps, replace_hour

HOUR = timedelta(hours=1)
GAPS = text("""
SELECT id, equipment, metric, gap_start, gap_end, duration_s, detected_at, cleared_at, backfill_status, series_id
FROM tds.gaps ORDER BY id
""")
QUALITY = text("SELECT * FROM tds.quality_hourly ORDER BY hour, tenant, equipment, metric")


def _run(fleet: Any, hour: str, now: datetime | None = None) -> GapChanges:
    start = fleet.at(hour)
    with fleet.engine.begin() as conn:
        quality = measure_window(conn, Window(start, start + HOUR, now or fleet.now), gap_factor=3)
        replace_hour(conn, quality)
        return record_gaps(conn, quality)


def _table(fleet: Any, query: Any) -> list[tuple]:
    with fleet.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def _gaps(fleet: Any) -> dict[tuple[str, str], Any]:
    with fleet.engine.connect() as conn:
        return {(r.equipment, r.metric): r for r in conn.execute(GAPS)}


def test_hours_land_in_quality_hourly(fleet: Any) -> None:
    for hour in ("09:00:00", "10:00:00", "11:00:00"):
        _run(fleet, hour)
    with fleet.engine.connect() as conn:
        per_hour = dict(conn.execute(text("SELECT hour, count(*) FROM tds.quality_hourly GROUP BY hour")).all())
        temp = conn.execute(text(
            "SELECT expected, received, good, coverage_pct, good_pct, gap_count, longest_gap_s, expected_interval_s,"
            " site, computed_at FROM tds.quality_hourly"
            " WHERE hour = :hour AND tenant = 'acme' AND equipment = 'chiller-1' AND metric = 'temp'"),
            {"hour": fleet.at("10:00:00")}).one()
    assert per_hour == {fleet.at("09:00:00"): 4, fleet.at("10:00:00"): 8, fleet.at("11:00:00"): 9}
    assert tuple(temp) == (360, 331, 315, 100 * 331 / 360, 100 * 315 / 331, 1, 300, 10, "plant-1", fleet.now)


def test_gaps_are_tracked_once_across_hours(fleet: Any) -> None:
    at = fleet.at
    changes = [_run(fleet, hour) for hour in ("09:00:00", "10:00:00", "11:00:00")]
    assert changes == [GapChanges(0, 0, 0), GapChanges(4, 0, 0), GapChanges(0, 0, 0)]
    gaps = _gaps(fleet)
    assert {k: (g.gap_start, g.gap_end, g.duration_s, g.detected_at, g.cleared_at, g.backfill_status)
            for k, g in gaps.items()} == {
        ("chiller-1", "temp"): (at("10:20:00"), at("10:25:00"), 300, fleet.now, None, "none"),
        ("chiller-1", "pressure"): (at("10:40:00"), None, 3000, fleet.now, None, "none"),
        ("pump-7", "pressure"): (at("10:55:00"), at("11:10:00"), 900, fleet.now, None, "none"),  # across 11:00
        ("meter-3", "energy"): (at("10:29:00"), at("10:40:00"), 660, fleet.now, None, "none"),
    }
    assert all(g.series_id == fleet.series_ids_by_name[k] for k, g in gaps.items())


def test_rerunning_an_hour_changes_nothing(fleet: Any) -> None:
    for hour in ("11:00:00", "10:00:00"):
        _run(fleet, hour)
    gaps, quality = _table(fleet, GAPS), _table(fleet, QUALITY)
    assert _run(fleet, "10:00:00") == GapChanges(0, 0, 0)
    assert _run(fleet, "11:00:00") == GapChanges(0, 0, 0)
    assert _table(fleet, GAPS) == gaps
    assert _table(fleet, QUALITY) == quality


def test_open_gap_closes_when_data_resumes(fleet: Any) -> None:
    at = fleet.at
    _run(fleet, "10:00:00")
    opened = _gaps(fleet)[("chiller-1", "pressure")]
    fleet.land_pressure("11:40:00", "12:30:00")
    _run(fleet, "11:00:00", now=at("12:35:00"))
    closed = _gaps(fleet)[("chiller-1", "pressure")]
    assert (closed.id, closed.gap_start, closed.gap_end, closed.duration_s) == (
        opened.id, at("10:40:00"), at("11:40:00"), 3600)
    assert closed.detected_at == opened.detected_at
    assert [(g[1], g[2]) for g in _table(fleet, GAPS)].count(("chiller-1", "pressure")) == 1


def test_late_data_clears_the_gap_it_fills(fleet: Any) -> None:
    _run(fleet, "10:00:00")
    fleet.land_late_energy()
    later = fleet.now + timedelta(minutes=5)
    assert _run(fleet, "10:00:00", now=later).cleared == 1
    energy = _gaps(fleet)[("meter-3", "energy")]
    assert (energy.gap_end, energy.duration_s, energy.cleared_at) == (fleet.at("10:40:00"), 660, later)
    assert sum(g.cleared_at is not None for g in _gaps(fleet).values()) == 1


def test_resent_history_clears_and_closes_an_open_gap(fleet: Any) -> None:
    _run(fleet, "11:00:00")
    fleet.land_pressure("10:41:00", "11:29:00")  # the device's buffer, replayed
    assert _run(fleet, "11:00:00").cleared == 1
    pressure = _gaps(fleet)[("chiller-1", "pressure")]
    assert (pressure.gap_end, pressure.duration_s, pressure.cleared_at) == (fleet.at("10:41:00"), 60, fleet.now)
