"""Inferred intervals: the median spacing exactly as percentile_cont, remembered per series (by a
window, or for every series at once by the hourly refresh) and reused for windows ending near the
moment it covers (ground-truth fleet, both editions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text

from tds_platform.quality.intervals import INTERVAL_REUSE
from tds_platform.quality.measure import Window, WindowQuality, measure_window
from tds_platform.quality.runner import judge_hours, refresh_intervals
from tds_platform.quality.store import remember_intervals

HOUR = timedelta(hours=1)
REMEMBERED = text("""
SELECT metric, inferred_interval_s, inferred_until FROM tds.metric_spec
WHERE tenant = 'acme' AND equipment = :equipment AND metric = :metric
""")
SET_REMEMBERED = text("""
UPDATE tds.metric_spec SET inferred_interval_s = :interval_s, inferred_until = :until
WHERE tenant = 'acme' AND equipment = :equipment AND metric = :metric
""")
ADD_SERIES = text("""
INSERT INTO tds.metric_spec (tenant, equipment, metric) VALUES ('acme', 'chiller-1', :metric) RETURNING series_id
""")
LAND = text("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (:series_id, :ts, 1)")
# The definition (median spacing, ARCHITECTURE.md#quality-definitions) as the original statement
# computed it, to compare against.
PERCENTILE_CONT = text("""
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY spacing_s)
FROM (
    SELECT extract(epoch FROM ts - lag(ts) OVER (ORDER BY ts))::float8 AS spacing_s
    FROM tds.telemetry_raw WHERE series_id = :series_id AND ts >= :history_start AND ts < :until
) spacings
""")


def _measure(fleet: Any, hour: str, now: Any = None, reuse: timedelta = INTERVAL_REUSE) -> WindowQuality:
    start = fleet.at(hour)
    with fleet.engine.connect() as conn:
        return measure_window(conn, Window(start, start + HOUR, now or fleet.now), gap_factor=3, reuse=reuse)


def _remembered(fleet: Any, equipment: str, metric: str) -> tuple:
    with fleet.engine.connect() as conn:
        row = conn.execute(REMEMBERED, {"equipment": equipment, "metric": metric}).one()
    return row.inferred_interval_s, row.inferred_until


def _remember(fleet: Any, equipment: str, metric: str, interval_s: float, until: Any) -> None:
    with fleet.engine.begin() as conn:
        conn.execute(SET_REMEMBERED, {"equipment": equipment, "metric": metric, "interval_s": interval_s,
                                      "until": until})


def _interval(quality: WindowQuality, equipment: str, metric: str) -> float:
    rows = quality.series.set_index(["tenant", "equipment", "metric"])
    return rows.loc[("acme", equipment, metric), "interval_s"]


def test_judging_an_hour_series_intervals_serves_infers_nothing_inline(fleet: Any) -> None:
    judged = judge_hours(fleet.engine, fleet.at("10:00:00"), fleet.at("11:00:00"), fleet.now, gap_factor=3)
    rows = judged.series.set_index(["equipment", "metric"])
    assert pd.isna(rows.loc[("chiller-1", "pressure"), "interval_s"])
    assert rows.loc[("chiller-1", "pressure"), "received"] == 41  # counted all the same
    assert judged.pending == 3  # pressure and speed until series_intervals runs; status never has one
    assert _remembered(fleet, "chiller-1", "pressure") == (None, None)

    refresh_intervals(fleet.engine, fleet.at("11:00:00"))
    judged = judge_hours(fleet.engine, fleet.at("10:00:00"), fleet.at("11:00:00"), fleet.now, gap_factor=3)
    assert (judged.pending, judged.series.set_index(["equipment", "metric"]).loc[("chiller-1", "pressure"),
                                                                                   "interval_s"]) == (1, 60)


def test_judging_an_older_hour_remembers_only_the_medians_it_inferred(fleet: Any) -> None:
    """An hour no series_intervals run will serve (a backfill of history) infers its own medians."""
    judge_hours(fleet.engine, fleet.at("10:00:00"), fleet.at("11:00:00"), fleet.now + 4 * HOUR, gap_factor=3)
    until = fleet.at("11:00:00")
    assert _remembered(fleet, "chiller-1", "pressure") == (60, until)
    assert _remembered(fleet, "pump-7", "speed") == (15, until)
    assert _remembered(fleet, "meter-3", "status") == (None, None)  # one reading: nothing to remember
    assert _remembered(fleet, "chiller-1", "temp") == (None, None)  # registered: never inferred


def test_a_remembered_median_is_used_near_its_moment_only(fleet: Any) -> None:
    until = fleet.at("11:00:00")
    _remember(fleet, "chiller-1", "pressure", 600, until - INTERVAL_REUSE)
    near = _measure(fleet, "10:00:00")
    assert _interval(near, "chiller-1", "pressure") == 600
    ids = fleet.series_ids_by_name
    assert ids[("chiller-1", "pressure")] not in near.inferred
    assert near.inferred[ids[("pump-7", "speed")]] == 15

    _remember(fleet, "chiller-1", "pressure", 600, until - INTERVAL_REUSE - timedelta(seconds=1))
    far = _measure(fleet, "10:00:00")
    assert _interval(far, "chiller-1", "pressure") == 60
    assert far.inferred[ids[("chiller-1", "pressure")]] == 60


def test_a_refresh_remembers_every_median_and_the_windows_near_it_infer_none(fleet: Any) -> None:
    inline = _measure(fleet, "10:00:00")  # nothing remembered yet: both medians computed here
    ids = fleet.series_ids_by_name
    assert set(inline.inferred) == {ids[("chiller-1", "pressure")], ids[("pump-7", "speed")]}
    until = fleet.at("11:00:00")
    refreshed = refresh_intervals(fleet.engine, until)
    # pressure, speed and status have no registered interval; status has a single reading
    assert (refreshed.until, refreshed.series, refreshed.inferred, refreshed.remembered) == (until, 3, 2, 2)
    again = refresh_intervals(fleet.engine, until)
    assert (again.series, again.inferred, again.remembered) == (1, 0, 0)  # only status, which has none
    assert _remembered(fleet, "chiller-1", "pressure") == (60, until)
    assert _remembered(fleet, "pump-7", "speed") == (15, until)
    assert _remembered(fleet, "meter-3", "status") == (None, None)
    assert _remembered(fleet, "chiller-1", "temp") == (None, None)  # registered: never inferred
    for hour in ("08:00:00", "09:00:00", "10:00:00", "11:00:00"):  # windows ending 09:00 .. 11:30 (now)
        assert _measure(fleet, hour).inferred == {}, hour
    remembered = _measure(fleet, "10:00:00")
    pd.testing.assert_frame_equal(remembered.series, inline.series)  # the same figures as computed inline


def test_an_older_window_never_replaces_a_newer_median(fleet: Any) -> None:
    newer = _measure(fleet, "11:00:00")  # until = now, 11:30
    with fleet.engine.begin() as conn:
        assert remember_intervals(conn, newer.inferred, newer.window.until) == 2  # pressure and speed
    older = _measure(fleet, "10:00:00", reuse=timedelta(0))  # inferred again from its own 24 h
    with fleet.engine.begin() as conn:
        assert remember_intervals(conn, older.inferred, older.window.until) == 0
    assert _remembered(fleet, "chiller-1", "pressure") == (60, fleet.now)


@pytest.mark.parametrize("count", [241, 242])  # odd and even number of spacings
def test_median_is_percentile_cont_to_the_last_bit(fleet: Any, count: int) -> None:
    """Irregular spacings with microseconds, so the interpolation and every conversion show."""
    with fleet.engine.begin() as conn:
        series_id = conn.execute(ADD_SERIES, {"metric": f"jitter-{count}"}).scalar_one()
        ts = fleet.at("10:00:00")
        stamps = []
        for k in range(count + 1):
            stamps.append(ts)
            ts += timedelta(seconds=9 + (k * 7919) % 5, microseconds=(k * 104729) % 1_000_000)
        conn.execute(LAND, [{"series_id": series_id, "ts": stamp} for stamp in stamps])
    quality = _measure(fleet, "10:00:00")
    until = fleet.at("11:00:00")
    with fleet.engine.connect() as conn:
        expected = conn.execute(PERCENTILE_CONT, {"series_id": series_id, "history_start": until - 24 * HOUR,
                                                  "until": until}).scalar_one()
    assert quality.inferred[series_id] == expected
    assert _interval(quality, "chiller-1", f"jitter-{count}") == expected


def test_remembering_skips_rows_the_writer_holds_instead_of_waiting(fleet: Any) -> None:
    quality = _measure(fleet, "10:00:00")
    with fleet.engine.connect() as writer:
        writer.execute(text("SELECT 1 FROM tds.metric_spec WHERE tenant = 'acme' AND equipment = 'chiller-1' "
                            "AND metric = 'pressure' FOR UPDATE"))
        with fleet.engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail the test, not hang it
            assert remember_intervals(conn, quality.inferred, quality.window.until) == 1  # speed only
        writer.rollback()
    assert _remembered(fleet, "chiller-1", "pressure") == (None, None)
    with fleet.engine.begin() as conn:
        assert remember_intervals(conn, quality.inferred, quality.window.until) == 1
    assert _remembered(fleet, "chiller-1", "pressure") == (60, fleet.at("11:00:00"))
