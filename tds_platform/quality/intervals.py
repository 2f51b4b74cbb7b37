"""A series' expected interval, defined once for every judge of it (the quality run's coverage and
gaps, the freshness and quality-gap alerts, the backfill's verdict): the registry's, else the median
spacing of its readings in the 24 h before the moment it is judged as of.

Computes medians and says which remembered ones may stand in, and which windows the
series_intervals asset will serve (so a quality partition of those never reads 24 h of readings
inline: a cold start costs it nothing extra); it only reads — keeping the medians is
`tds_platform.quality.store.remember_intervals`' job.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER

from tds_platform.time_windows import HOUR, floor_to_bucket

INTERVAL_HISTORY = timedelta(hours=24)
# How far from a window's end a remembered median may have been taken and still be used. The
# series_intervals asset remembers every median as of the last closed hour (its sensor runs it as
# soon as the hour turns), and the quality schedule judges the 3 closed hours before now: all of
# them end within 3 h of it.
INTERVAL_REUSE = timedelta(hours=3)

# JIT compilation costs more than it saves on these one-off statements (1.4 s of 4.5 s measured),
# and their sorts and hashes of ~1M rows should stay in memory: both only for this transaction.
STATEMENT_SETTINGS = text("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")

# Per series, the interval a window ending at :until can be judged by without reading history:
# the registry's, else a remembered median whose 24 h end within :reuse of :until (the series'
# "last 24 h" before the judged moment, to within the reuse); NULL when the median must be computed.
# Every series, or only :series_ids when it is not NULL.
KNOWN_INTERVALS = text("""
SELECT series_id,
       coalesce(expected_interval_s,
                CASE WHEN inferred_until BETWEEN :until - :reuse AND :until + :reuse THEN inferred_interval_s END)
           AS interval_s
FROM tds.metric_spec
WHERE CAST(:series_ids AS integer[]) IS NULL OR series_id = ANY(:series_ids)
""").bindparams(bindparam("series_ids", type_=ARRAY(INTEGER)))

# The series whose interval series_intervals has to infer as of :until: a registered one always
# wins, and a median already remembered for that very moment stands (a second run within the hour,
# for a series seen since the first, reads only that series' readings).
SERIES_WITHOUT_MEDIAN = text("""
SELECT series_id FROM tds.metric_spec
WHERE expected_interval_s IS NULL AND inferred_until IS DISTINCT FROM :until
""")

# The median spacing of each series' readings in [:history_start, :until), exactly as
# percentile_cont(0.5) over those spacings (no readings or one reading: no row). It reads every
# reading of the 24 h, so the per-reading work is kept to the least that gives an exact answer:
# - the primary key's index-only scan hands each series' timestamps over in order, folded into
#   one array per series: an aggregate costs next to nothing per reading, where a lag() window
#   spooled every reading through a tuplestore (21.6M readings, backend CPU best of 4 on a busy
#   2-core machine: 13.7 s with lag(), 10.3 s with arrays; the scan alone is ~4 s). The scan is
#   index-only as far as the visibility map is set: autovacuum sets it on append-only chunks
#   since PG 13, and each reading written since its last pass costs a heap visit (none set:
#   +30-60% on the scan);
# - the spacings (ts[k+1] - ts[k] of the array) are counted per distinct value by hashing,
#   rather than sorted, and converted to seconds once per distinct value;
# - percentile_cont's result is then read off the running counts: the values at the 0-based
#   positions floor and ceil of (n - 1) / 2, interpolated as it does (lo + 0.5 * (hi - lo)).
MEDIAN_SPACINGS = text("""
WITH readings AS (
    SELECT r.series_id, array_agg(r.ts ORDER BY r.ts) AS stamps
    FROM tds.telemetry_raw r
    WHERE r.series_id = ANY(:series_ids) AND r.ts >= :history_start AND r.ts < :until
    GROUP BY r.series_id
),
spacing_counts AS (
    SELECT series_id, stamps[k + 1] - stamps[k] AS spacing, count(*) AS n
    FROM (SELECT series_id, stamps, generate_series(1, cardinality(stamps) - 1) AS k FROM readings) pairs
    GROUP BY series_id, spacing
),
spacing_ranks AS (
    SELECT series_id, extract(epoch FROM spacing)::float8 AS spacing_s,
           sum(n) OVER (PARTITION BY series_id ORDER BY spacing) AS up_to,
           sum(n) OVER (PARTITION BY series_id) AS total
    FROM spacing_counts
),
middles AS (
    SELECT series_id,
           min(spacing_s) FILTER (WHERE up_to > floor((total - 1) / 2)) AS lo,
           min(spacing_s) FILTER (WHERE up_to > ceil((total - 1) / 2)) AS hi
    FROM spacing_ranks
    GROUP BY series_id
)
SELECT series_id, CASE WHEN lo = hi THEN lo ELSE lo + 0.5 * (hi - lo) END AS interval_s
FROM middles
""").bindparams(bindparam("series_ids", type_=ARRAY(INTEGER)))


def known_intervals(conn: Connection, until: datetime, reuse: timedelta = INTERVAL_REUSE,
                    series_ids: Collection[int] | None = None) -> dict[int, float | None]:
    """series_id -> the interval a window ending at `until` uses without computing it (None: compute
    it), for every series or only `series_ids`."""
    params = {"until": until, "reuse": reuse, "series_ids": None if series_ids is None else list(series_ids)}
    return {row.series_id: row.interval_s for row in conn.execute(KNOWN_INTERVALS, params)}


def series_without_median(conn: Connection, until: datetime) -> list[int]:
    """Every series whose interval neither the registry nor a median remembered as of `until` gives."""
    return list(conn.execute(SERIES_WITHOUT_MEDIAN, {"until": until}).scalars())


def infer_intervals(conn: Connection, series_ids: Sequence[int], until: datetime) -> dict[int, float]:
    """series_id -> median spacing of its readings in the 24 h before `until`, for those with two or more."""
    if not series_ids:
        return {}
    conn.execute(STATEMENT_SETTINGS)
    rows = conn.execute(MEDIAN_SPACINGS, {"series_ids": list(series_ids), "history_start": until - INTERVAL_HISTORY,
                                          "until": until})
    return {row.series_id: row.interval_s for row in rows}


@dataclass(frozen=True)
class ExpectedIntervals:
    """Each series' expected interval as of `until` (None: unknown, fewer than two readings in the
    24 h before it), and the medians computed from the readings to get them (for the store to remember)."""

    until: datetime
    by_series: dict[int, float | None]
    inferred: dict[int, float]


def expected_intervals(conn: Connection, until: datetime, series_ids: Collection[int] | None = None,
                       reuse: timedelta = INTERVAL_REUSE, infer: bool = True) -> ExpectedIntervals:
    """The one definition: the registered interval, else the median spacing of the series' readings in
    the 24 h before `until`, for which a median remembered for a moment within `reuse` of `until`
    stands in. Only `series_ids` when given (every registered series otherwise); the median is
    computed only for series that have neither, and only if `infer` (else they stay unknown)."""
    known = known_intervals(conn, until, reuse, series_ids)
    missing = [series_id for series_id, interval in known.items() if interval is None]
    inferred = infer_intervals(conn, missing, until) if infer else {}
    return ExpectedIntervals(until, known | inferred, inferred)


def served_by_series_intervals(until: datetime, now: datetime, reuse: timedelta = INTERVAL_REUSE) -> bool:
    """Whether the medians a window ending at `until` is judged by come from the series_intervals
    asset as of `now`: it remembers them as of `judged_as_of(now)`, which stands in for the windows
    ending within `reuse` of it, the quality schedule's trailing hours. A quality partition never
    infers those inline (a series without one yet is judged pending, and re-judged by the schedule
    once the asset has remembered it); only an older window, which no run of the asset will ever
    serve, infers its own."""
    return until > judged_as_of(now) - reuse


def judged_as_of(now: datetime) -> datetime:
    """The moment a series' interval is taken as of when it is judged at `now`: the end of the last
    closed hour. The newest quality hour is judged by it, the series_intervals asset remembers it, and
    the freshness and quality-gap alerts use it too, so all of them agree on a series' interval."""
    return floor_to_bucket(now, HOUR)
