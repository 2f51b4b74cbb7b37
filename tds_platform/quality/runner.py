"""Judges a range of whole hours (measure each, replace its quality_hourly rows, track its gaps), and
refreshes every series' remembered interval so those hours need not infer it: an hour the
series_intervals asset serves never infers one inline (its cost grows with 24 h of readings, the
hour's with one), so a cold start costs a partition no more than a warm one.

One transaction per hour, so a long backfill keeps what it finished; it must never write outside
the hours it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from tds_platform.quality.intervals import infer_intervals, series_without_median, served_by_series_intervals
from tds_platform.quality.measure import Window, WindowQuality, measure_window
from tds_platform.quality.store import GapChanges, record_gaps, remember_intervals, replace_hour
from tds_platform.time_windows import HOUR


@dataclass(frozen=True)
class HoursJudged:
    """Everything the judged hours produced: per-series figures (with their `hour`) and distinct gaps."""

    series: pd.DataFrame
    gaps: pd.DataFrame
    rows_written: int
    gap_changes: GapChanges
    pending: int  # series-hours judged without an interval: series_intervals has yet to remember one, or none exists


@dataclass(frozen=True)
class IntervalsRefreshed:
    """One refresh of the remembered intervals: medians of the 24 h before `until`."""

    until: datetime
    series: int  # without a registered interval or a median remembered as of `until`
    inferred: int  # of those, with two or more readings in the 24 h
    remembered: int  # of those, written (a newer median or a row the writer held is left alone)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    if start.minute or start.second or start.microsecond or end.minute or end.second or end.microsecond:
        raise ValueError(f"[{start}, {end}) is not a range of whole hours")
    count = int((end - start) / HOUR)
    if count < 1:
        raise ValueError(f"[{start}, {end}) holds no hour")
    return [start + k * HOUR for k in range(count)]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    filled = [f for f in frames if not f.empty]
    return pd.concat(filled, ignore_index=True) if filled else frames[0]


def judge_hours(engine: Engine, start: datetime, end: datetime, now: datetime, gap_factor: float) -> HoursJudged:
    results: list[WindowQuality] = []
    rows = new = updated = cleared = 0
    for hour in hours_between(start, end):
        window = Window(hour, hour + HOUR, now)
        with engine.begin() as conn:
            quality = measure_window(conn, window, gap_factor, infer=not served_by_series_intervals(window.until, now))
            rows += replace_hour(conn, quality)
            changes = record_gaps(conn, quality)
        with engine.begin() as conn:  # after the hour's commit: never holds registry rows while judging
            remember_intervals(conn, quality.inferred, quality.window.until)
        results.append(quality)
        new, updated, cleared = new + changes.new, updated + changes.updated, cleared + changes.cleared
    series = _concat([r.series.assign(hour=r.window.start) for r in results])
    # A gap spanning several hours is seen by each of them: it is one gap.
    gaps = _concat([r.gaps for r in results]).drop_duplicates(subset=["series_id", "gap_start"], keep="last")
    pending = sum(len(r.pending) for r in results)
    return HoursJudged(series, gaps.reset_index(drop=True), rows, GapChanges(new, updated, cleared), pending)


def refresh_intervals(engine: Engine, until: datetime) -> IntervalsRefreshed:
    """Infer and remember the median spacing over the 24 h before `until` of every series without a
    registered interval or a median as of `until` already: the quality hours ending within
    INTERVAL_REUSE of `until` then reuse it."""
    # One connection on purpose: two, each with half the series, ran 1.4-2.5x faster on the 2-core
    # machine, but would take both cores from the stream writer for those seconds every hour, and
    # this has the hour to finish. PostgreSQL's parallel query cannot split the statement (an
    # ordered aggregate such as the per-series array_agg has no partial form).
    with engine.begin() as conn:  # the registry rows are only locked by the update at the very end
        series = series_without_median(conn, until)
        inferred = infer_intervals(conn, series, until)
        remembered = remember_intervals(conn, inferred, until)
    return IntervalsRefreshed(until, len(series), len(inferred), remembered)
