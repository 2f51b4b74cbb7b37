"""The SQL of a rollup refresh, per level, built once from the fixed level list.

Rollup tables (Apache edition, plain PostgreSQL): delete the window, insert it again from the level
below, with exactly the continuous aggregates' definitions in 0001_foundation.py (avg = sum/n,
first/last by time, buckets aligned at 2000-01-01 UTC like time_bucket). Full edition: one CALL.
Values never enter SQL text; only level names from the allow-list do.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from tds_platform.defs.rollups.levels import LEVELS, RollupLevel

COLUMNS = "series_id, bucket, n, min, max, avg, sum, first, last"

FROM_RAW = """
INSERT INTO {target} ({columns})
SELECT series_id, date_bin(INTERVAL '{seconds} seconds', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       count(value), min(value), max(value), sum(value) / count(value), sum(value),
       (array_agg(value ORDER BY ts))[1], (array_agg(value ORDER BY ts DESC))[1]
FROM tds.telemetry_raw
WHERE value IS NOT NULL AND ts >= :start AND ts < :end
GROUP BY 1, 2
"""

FROM_LEVEL = """
INSERT INTO {target} ({columns})
SELECT series_id, date_bin(INTERVAL '{seconds} seconds', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       sum(n)::bigint, min(min), max(max), sum(sum) / sum(n), sum(sum),
       (array_agg(first ORDER BY bucket))[1], (array_agg(last ORDER BY bucket DESC))[1]
FROM {source}
WHERE bucket >= :start AND bucket < :end
GROUP BY 1, 2
"""

DELETE_WINDOW = "DELETE FROM {target} WHERE bucket >= :start AND bucket < :end"
COUNT_WINDOW = "SELECT count(*) FROM {target} WHERE bucket >= :start AND bucket < :end"

# Two refreshes of one level at once would both delete and then collide on insert.
LOCK_LEVEL = text("SELECT pg_advisory_xact_lock(hashtext(:level))")

# Must run outside a transaction (TimescaleDB refuses otherwise).
CAGG_REFRESH = text(
    "CALL refresh_continuous_aggregate(CAST(:relation AS regclass), "
    "CAST(:start AS timestamptz), CAST(:end AS timestamptz))"
)


def insert_sql(level: RollupLevel) -> TextClause:
    by_name = {lvl.name: lvl for lvl in LEVELS}
    source = by_name.get(level.source_asset)
    template = FROM_RAW if source is None else FROM_LEVEL
    return text(template.format(
        target=level.data_table, columns=COLUMNS, seconds=int(level.width.total_seconds()),
        source=source.data_table if source else "",
    ))


INSERT = {level.name: insert_sql(level) for level in LEVELS}
DELETE = {level.name: text(DELETE_WINDOW.format(target=level.data_table)) for level in LEVELS}
COUNT = {level.name: text(COUNT_WINDOW.format(target=level.data_table)) for level in LEVELS}
