"""Coverage, good-percentage and gaps of every series over one time window, in one SQL statement.

Implements DESIGN.md's quality definitions exactly and set-based over `tds.telemetry_raw`; it
only reads — writing the results is `tds_platform.quality.store`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, text

INTERVAL_HISTORY = timedelta(hours=24)

# One row per registered series that has started by the window's end. The interval is the
# registry's, else the median spacing of the 24 h before the window's end (its "last 24 h":
# tied to the window, not to the wall clock, so re-running an old hour gives the same answer).
# Gaps come from consecutive readings over the window plus the last reading before it and the
# first one after it, so a window edge is never a gap and a gap crossing it is seen whole.
# Readings at or after :now do not exist yet as far as this computation is concerned.
MEASURE_WINDOW = text("""
WITH series AS (
    SELECT s.series_id, s.tenant, e.site, s.equipment, s.metric,
           s.expected_interval_s, s.valid_min, s.valid_max
    FROM tds.metric_spec s
    JOIN tds.equipment e ON e.tenant = s.tenant AND e.equipment = s.equipment
),
inferred AS (
    SELECT series_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY spacing_s) AS interval_s
    FROM (
        SELECT r.series_id,
               extract(epoch FROM r.ts - lag(r.ts) OVER (PARTITION BY r.series_id ORDER BY r.ts))::float8
                   AS spacing_s
        FROM tds.telemetry_raw r
        JOIN tds.metric_spec s ON s.series_id = r.series_id AND s.expected_interval_s IS NULL
        WHERE r.ts >= :history_start AND r.ts < :until
    ) spacings
    WHERE spacing_s IS NOT NULL
    GROUP BY series_id
),
edges AS (
    SELECT s.*, coalesce(s.expected_interval_s, i.interval_s) AS interval_s,
           before.ts AS before_ts, after.ts AS after_ts
    FROM series s
    LEFT JOIN inferred i ON i.series_id = s.series_id
    LEFT JOIN LATERAL (
        SELECT r.ts FROM tds.telemetry_raw r
        WHERE r.series_id = s.series_id AND r.ts < :window_start
        ORDER BY r.ts DESC LIMIT 1
    ) before ON true
    LEFT JOIN LATERAL (
        SELECT r.ts FROM tds.telemetry_raw r
        WHERE r.series_id = s.series_id AND r.ts >= :window_end AND r.ts < :now
        ORDER BY r.ts LIMIT 1
    ) after ON true
),
inside AS (
    SELECT r.series_id, r.ts, r.value, r.quality
    FROM tds.telemetry_raw r
    WHERE r.ts >= :window_start AND r.ts < :until
),
counts AS (
    SELECT i.series_id, count(DISTINCT i.ts) AS received,
           count(DISTINCT i.ts) FILTER (
               WHERE i.quality = 0
                 AND i.value > '-Infinity'::float8 AND i.value < 'Infinity'::float8  -- finite: NaN sorts above Infinity
                 AND (s.valid_min IS NULL OR i.value >= s.valid_min)
                 AND (s.valid_max IS NULL OR i.value <= s.valid_max)
           ) AS good,
           min(i.ts) AS first_ts
    FROM inside i
    JOIN series s ON s.series_id = i.series_id
    GROUP BY i.series_id
),
timeline AS (
    SELECT series_id, ts FROM inside
    UNION ALL SELECT series_id, before_ts FROM edges WHERE before_ts IS NOT NULL
    UNION ALL SELECT series_id, after_ts FROM edges WHERE after_ts IS NOT NULL
),
silences AS (
    SELECT series_id, ts AS gap_start, lead(ts) OVER (PARTITION BY series_id ORDER BY ts) AS gap_end
    FROM timeline
),
gaps AS (
    SELECT g.series_id, g.gap_start, g.gap_end,
           extract(epoch FROM coalesce(g.gap_end, :now) - g.gap_start)::float8 AS duration_s
    FROM silences g
    JOIN edges e ON e.series_id = g.series_id
    WHERE g.gap_start < :until
      AND (g.gap_end IS NULL OR g.gap_end > :window_start)
      AND extract(epoch FROM coalesce(g.gap_end, :now) - g.gap_start)::float8 > :gap_factor * e.interval_s
),
gap_lists AS (
    SELECT series_id, count(*) AS gap_count, max(duration_s) AS longest_gap_s,
           array_agg(gap_start ORDER BY gap_start) AS gap_starts,
           array_agg(gap_end ORDER BY gap_start) AS gap_ends,
           array_agg(duration_s ORDER BY gap_start) AS gap_durations
    FROM gaps
    GROUP BY series_id
),
measured AS (
    SELECT e.series_id, e.tenant, e.site, e.equipment, e.metric, e.interval_s,
           extract(epoch FROM :until - CASE WHEN e.before_ts IS NULL THEN c.first_ts ELSE :window_start END)::float8
               / e.interval_s AS expected,
           coalesce(c.received, 0) AS received,
           coalesce(c.good, 0) AS good,
           coalesce(g.gap_count, 0) AS gap_count, g.longest_gap_s,
           g.gap_starts, g.gap_ends, g.gap_durations
    FROM edges e
    LEFT JOIN counts c ON c.series_id = e.series_id
    LEFT JOIN gap_lists g ON g.series_id = e.series_id
    WHERE e.before_ts IS NOT NULL OR c.first_ts IS NOT NULL
)
SELECT series_id, tenant, site, equipment, metric, interval_s, expected, received, good,
       CASE WHEN expected > 0 THEN 100 * least(received / expected, 1) END AS coverage_pct,  -- least() skips NULLs
       100 * good::float8 / nullif(received, 0) AS good_pct,
       gap_count, longest_gap_s, gap_starts, gap_ends, gap_durations
FROM measured
ORDER BY tenant, equipment, metric
""")

SERIES_COLUMNS = ["series_id", "tenant", "site", "equipment", "metric", "interval_s", "expected", "received",
                  "good", "coverage_pct", "good_pct", "gap_count", "longest_gap_s"]
GAP_COLUMNS = ["series_id", "tenant", "equipment", "metric", "gap_start", "gap_end", "duration_s"]


@dataclass(frozen=True)
class Window:
    """A half-open time window [start, end) judged as of `now` (a window still running ends at now)."""

    start: datetime
    end: datetime
    now: datetime

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"window start {self.start} is not before its end {self.end}")
        if self.start.tzinfo is None or self.end.tzinfo is None or self.now.tzinfo is None:
            raise ValueError("window bounds and now must be timezone-aware")

    @property
    def until(self) -> datetime:
        return min(self.end, self.now)


@dataclass(frozen=True)
class WindowQuality:
    """Per-series figures (`SERIES_COLUMNS`) and the gaps overlapping the window (`GAP_COLUMNS`)."""

    window: Window
    series: pd.DataFrame
    gaps: pd.DataFrame

    @property
    def judged_series_ids(self) -> list[int]:
        """Series whose interval is known here: only for those can a missing gap mean it is gone."""
        return [int(s) for s in self.series.loc[self.series["interval_s"].notna(), "series_id"]]


def measure_window(conn: Connection, window: Window, gap_factor: float) -> WindowQuality:
    if window.until <= window.start:
        return WindowQuality(window, pd.DataFrame(columns=SERIES_COLUMNS), pd.DataFrame(columns=GAP_COLUMNS))
    rows = conn.execute(MEASURE_WINDOW, {
        "window_start": window.start, "window_end": window.end, "until": window.until, "now": window.now,
        "history_start": window.until - INTERVAL_HISTORY, "gap_factor": gap_factor,
    }).mappings().all()
    series = pd.DataFrame([{c: row[c] for c in SERIES_COLUMNS} for row in rows], columns=SERIES_COLUMNS)
    gaps = pd.DataFrame(
        [
            {"series_id": row["series_id"], "tenant": row["tenant"], "equipment": row["equipment"],
             "metric": row["metric"], "gap_start": start, "gap_end": end, "duration_s": duration}
            for row in rows if row["gap_starts"]
            for start, end, duration in zip(row["gap_starts"], row["gap_ends"], row["gap_durations"], strict=True)
        ],
        columns=GAP_COLUMNS,
    )
    return WindowQuality(window, series, gaps)
