"""Gaps and counts of `measure_window` against a reading-by-reading walk of the definitions
(ARCHITECTURE.md#quality-definitions), on jittery series with silences of every length.

The statement walks in order only the series whose half-gap slots were not all heard; this
checks that no gap is missed or invented by that shortcut: silences just above and below a gap,
straddling slot and window edges, windows still running, and small gap factors.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tds_platform.db.engine import engine_for
from tds_platform.quality.measure import Window, measure_window

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
SERIES = 40


def _stamps(rng: random.Random, interval_s: float) -> list[datetime]:
    """From T0 - 2 h to T0 + 2 h, each spacing jittered by up to 40 %, with silences of 0.5 to 6
    intervals (around the gap threshold of the factors used) now and then."""
    stamps, t = [], -7200.0
    while t < 7200:
        stamps.append(T0 + timedelta(seconds=round(t, 3)))
        silent = rng.random() < 0.03
        t += interval_s * (rng.uniform(0.5, 6.0) if silent else rng.uniform(0.6, 1.4))
    return stamps


def _walk(stamps: list[datetime], window: Window, interval_s: float, factor: float) -> tuple | None:
    """received and gaps (start, end, seconds), straight from the definitions; None: not judged."""
    before = [ts for ts in stamps if ts < window.start][-1:]
    inside = [ts for ts in stamps if window.start <= ts < window.until]
    after = [ts for ts in stamps if window.end <= ts < window.now][:1]
    if not before and not inside:
        return None
    timeline = before + inside + after
    gaps = []
    for ts, next_ts in zip(timeline, [*timeline[1:], None], strict=True):
        silence = ((next_ts or window.now) - ts).total_seconds()
        if ts < window.until and (next_ts is None or next_ts > window.start) and silence > factor * interval_s:
            gaps.append((ts, next_ts, silence))
    return len(inside), gaps


@pytest.mark.parametrize("factor", [3.0, 1.5])
def test_gaps_and_counts_match_a_reading_by_reading_walk(database_url: str, factor: float) -> None:
    rng = random.Random(19)
    engine = engine_for(database_url)
    series: dict[int, tuple[float, list[datetime]]] = {}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tds.equipment (tenant, equipment) VALUES ('t', 'e')"))
        for k in range(SERIES):
            interval_s = rng.choice([1.0, 5.0, 10.0, 60.0])
            series_id = conn.execute(text(
                "INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s) "
                "VALUES ('t', 'e', :metric, :interval_s) RETURNING series_id"),
                {"metric": f"m{k}", "interval_s": interval_s}).scalar_one()
            series[series_id] = (interval_s, _stamps(rng, interval_s))
            conn.execute(text("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (:series_id, :ts, 1)"),
                         [{"series_id": series_id, "ts": ts} for ts in series[series_id][1]])

    windows = [Window(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)),  # closed, data after it
               Window(T0, T0 + timedelta(hours=1), T0 + timedelta(minutes=37, seconds=3.5)),  # running
               Window(T0 - timedelta(minutes=7, seconds=13), T0 + timedelta(minutes=1, seconds=1), T0),  # odd edges
               Window(T0 + timedelta(minutes=5), T0 + timedelta(minutes=5, seconds=2), T0 + timedelta(hours=3))]
    checked = gaps_seen = 0
    for window in windows:
        with engine.connect() as conn:
            measured = measure_window(conn, window, factor)
        rows = measured.series.set_index("series_id")
        found: dict[int, list] = {}
        for gap in measured.gaps.itertuples():
            end = None if gap.gap_end is None or gap.gap_end != gap.gap_end else gap.gap_end
            found.setdefault(gap.series_id, []).append((gap.gap_start, end, gap.duration_s))
        for series_id, (interval_s, stamps) in series.items():
            expected = _walk(stamps, window, interval_s, factor)
            if expected is None:
                assert series_id not in rows.index
                continue
            received, gaps = expected
            assert rows.loc[series_id, "received"] == received, (window, series_id)
            assert rows.loc[series_id, "gap_count"] == len(gaps), (window, series_id)
            got = sorted(found.get(series_id, []), key=lambda g: g[0])
            assert [(s, e) for s, e, _ in got] == [(s, e) for s, e, _ in gaps], (window, series_id)
            assert [d for _, _, d in got] == pytest.approx([d for _, _, d in gaps]), (window, series_id)
            checked += 1
            gaps_seen += len(gaps)
    assert checked > 3 * SERIES and gaps_seen > 20, "the data must exercise both paths"
