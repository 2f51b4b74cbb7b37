"""Writes one window's quality figures to `tds.quality_hourly`, its gaps to `tds.gaps`, and inferred
intervals (a window's or the series_intervals asset's) to `tds.metric_spec`.

Every write is idempotent: re-running a window replaces its hour and upserts the same gaps; it
must never create a second row for a gap already known by (series, gap_start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, DOUBLE_PRECISION, INTEGER, TEXT, TIMESTAMP

from tds_platform.quality.measure import WindowQuality

DELETE_HOUR = text("DELETE FROM tds.quality_hourly WHERE hour = :hour")

# One statement for the whole hour, the rows as column arrays: a row-by-row executemany of 2,500
# series cost ~0.3 s of a ~1.5 s partition (one round of the pipeline per row).
INSERT_HOUR = text("""
INSERT INTO tds.quality_hourly (hour, tenant, site, equipment, metric, expected, received, good,
                                coverage_pct, good_pct, gap_count, longest_gap_s, expected_interval_s, computed_at)
SELECT :hour, f.*, :computed_at
FROM unnest(:tenants, :sites, :equipments, :metrics, :expected, :received, :good, :coverage_pct, :good_pct,
            :gap_count, :longest_gap_s, :interval_s) AS f
""").bindparams(
    *[bindparam(name, type_=ARRAY(TEXT)) for name in ("tenants", "sites", "equipments", "metrics")],
    *[bindparam(name, type_=ARRAY(BIGINT)) for name in ("received", "good", "gap_count")],
    *[bindparam(name, type_=ARRAY(DOUBLE_PRECISION))
      for name in ("expected", "coverage_pct", "good_pct", "longest_gap_s", "interval_s")],
)

# unnest() parameter -> series frame column, in the order INSERT_HOUR unpacks them
_HOUR_ARRAYS = {"tenants": "tenant", "sites": "site", "equipments": "equipment", "metrics": "metric",
                "expected": "expected", "received": "received", "good": "good", "coverage_pct": "coverage_pct",
                "good_pct": "good_pct", "gap_count": "gap_count", "longest_gap_s": "longest_gap_s",
                "interval_s": "interval_s"}

# A gap seen again is the same gap: same series and same last reading before the silence. Its
# end and duration follow what the data says now (an open gap closes, a partly refilled gap
# shrinks); detected_at and any backfill bookkeeping stay. Unchanged rows are not rewritten.
UPSERT_GAPS = text("""
INSERT INTO tds.gaps AS g (tenant, equipment, metric, series_id, gap_start, gap_end, duration_s, detected_at)
SELECT f.tenant, f.equipment, f.metric, f.series_id, f.gap_start, f.gap_end, f.duration_s, :now
FROM unnest(:tenants, :equipments, :metrics, :series_ids, :gap_starts, :gap_ends, :durations)
     AS f(tenant, equipment, metric, series_id, gap_start, gap_end, duration_s)
ON CONFLICT (tenant, equipment, metric, gap_start) DO UPDATE
SET gap_end = EXCLUDED.gap_end, duration_s = EXCLUDED.duration_s, series_id = EXCLUDED.series_id, cleared_at = NULL
WHERE g.gap_end IS DISTINCT FROM EXCLUDED.gap_end
   OR g.duration_s IS DISTINCT FROM EXCLUDED.duration_s
   OR g.series_id IS DISTINCT FROM EXCLUDED.series_id
   OR g.cleared_at IS NOT NULL
RETURNING (xmax = 0) AS inserted
""").bindparams(
    bindparam("tenants", type_=ARRAY(TEXT)),
    bindparam("equipments", type_=ARRAY(TEXT)),
    bindparam("metrics", type_=ARRAY(TEXT)),
    bindparam("series_ids", type_=ARRAY(INTEGER)),
    bindparam("gap_starts", type_=ARRAY(TIMESTAMP(timezone=True))),
    bindparam("gap_ends", type_=ARRAY(TIMESTAMP(timezone=True))),
    bindparam("durations", type_=ARRAY(DOUBLE_PRECISION)),
)

# Known gaps overlapping the window that the recomputation no longer finds were filled by late
# data or a backfill: mark them cleared (history stays for the backfill's outcome). An open one
# is closed at the first reading after its start, which is what gap_end means.
CLEAR_VANISHED = text("""
WITH vanished AS (
    SELECT g.id, coalesce(g.gap_end, (
               SELECT min(r.ts) FROM tds.telemetry_raw r
               WHERE r.series_id = g.series_id AND r.ts > g.gap_start AND r.ts < :now)) AS gap_end
    FROM tds.gaps g
    WHERE g.cleared_at IS NULL
      AND g.series_id = ANY(:judged)
      AND g.gap_start < :until
      AND (g.gap_end IS NULL OR g.gap_end > :window_start)
      AND NOT EXISTS (
          SELECT 1 FROM unnest(:found_series, :found_starts) AS f(series_id, gap_start)
          WHERE f.series_id = g.series_id AND f.gap_start = g.gap_start)
)
UPDATE tds.gaps g
SET cleared_at = :now,
    gap_end = v.gap_end,
    duration_s = coalesce(extract(epoch FROM v.gap_end - g.gap_start)::float8, g.duration_s)
FROM vanished v
WHERE g.id = v.id
""").bindparams(
    bindparam("judged", type_=ARRAY(INTEGER)),
    bindparam("found_series", type_=ARRAY(INTEGER)),
    bindparam("found_starts", type_=ARRAY(TIMESTAMP(timezone=True))),
)


# Keep the newest median per series (a backfill of an old hour must not replace a recent one).
# Rows the stream writer holds right now (its registry upsert) are skipped rather than waited
# for: this statement then never waits, so it can never deadlock with a writer's batch, and a
# skipped series is simply inferred again by the next window.
REMEMBER_INTERVALS = text("""
WITH fresh AS (
    SELECT s.series_id, f.interval_s
    FROM tds.metric_spec s
    JOIN unnest(:series_ids, :intervals) AS f(series_id, interval_s) ON f.series_id = s.series_id
    WHERE s.inferred_until IS NULL OR s.inferred_until < :until
    FOR UPDATE OF s SKIP LOCKED
)
UPDATE tds.metric_spec s
SET inferred_interval_s = fresh.interval_s, inferred_until = :until
FROM fresh
WHERE s.series_id = fresh.series_id
""").bindparams(
    bindparam("series_ids", type_=ARRAY(INTEGER)),
    bindparam("intervals", type_=ARRAY(DOUBLE_PRECISION)),
)


@dataclass(frozen=True)
class GapChanges:
    """What one window's gap upsert did: how many gaps were new, updated and cleared."""

    new: int
    updated: int
    cleared: int


# unnest() parameter -> gap frame column, in the order UPSERT_GAPS unpacks them
_GAP_ARRAYS = {"tenants": "tenant", "equipments": "equipment", "metrics": "metric", "series_ids": "series_id",
               "gap_starts": "gap_start", "gap_ends": "gap_end", "durations": "duration_s"}


def _records(frame: pd.DataFrame) -> list[dict]:
    """Plain Python values for the driver: pandas' NaN/NaT become NULL."""
    return [
        {k: (None if v is None or (not isinstance(v, list) and pd.isna(v)) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def replace_hour(conn: Connection, quality: WindowQuality) -> int:
    """Replace the window's hour in tds.quality_hourly; returns rows written."""
    hour = quality.window.start
    conn.execute(DELETE_HOUR, {"hour": hour})
    rows = _records(quality.series)
    if rows:
        conn.execute(INSERT_HOUR, {"hour": hour, "computed_at": quality.window.now,
                                   **{param: [r[column] for r in rows] for param, column in _HOUR_ARRAYS.items()}})
    return len(rows)


def record_gaps(conn: Connection, quality: WindowQuality) -> GapChanges:
    """Upsert the window's gaps and clear known ones that vanished from it."""
    window = quality.window
    gaps = _records(quality.gaps)
    inserted = conn.execute(UPSERT_GAPS, {
        "now": window.now,
        **{param: [g[column] for g in gaps] for param, column in _GAP_ARRAYS.items()},
    }).scalars().all()
    cleared = conn.execute(CLEAR_VANISHED, {
        "now": window.now, "until": window.until, "window_start": window.start,
        "judged": quality.judged_series_ids,
        "found_series": [g["series_id"] for g in gaps],
        "found_starts": [g["gap_start"] for g in gaps],
    }).rowcount
    return GapChanges(new=sum(inserted), updated=len(inserted) - sum(inserted), cleared=cleared)


def remember_intervals(conn: Connection, inferred: Mapping[int, float], until: datetime) -> int:
    """Keep medians (series_id -> seconds) of the 24 h before `until`; returns series updated."""
    if not inferred:
        return 0
    return conn.execute(REMEMBER_INTERVALS, {
        "until": until, "series_ids": list(inferred), "intervals": list(inferred.values()),
    }).rowcount
