"""The SQL of a rollup refresh, per edition and level, built once from the fixed level list.

Rollup tables (Apache edition and plain PostgreSQL): delete the window, insert it again from the
level below, with exactly the continuous aggregates' definitions in 0001_foundation.py (avg = sum/n,
first/last by time, buckets aligned at 2000-01-01 UTC like time_bucket). Full edition: one CALL.
Values never enter SQL text; only level names from the allow-list do.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from tds_platform.db.edition import Edition
from tds_platform.rollups.levels import LEVELS, LEVELS_BY_NAME, RollupLevel
from tds_platform.time_windows import HOUR

COLUMNS = "series_id, bucket, n, min, max, avg, sum, first, last"
TABLE_EDITIONS = (Edition.APACHE, Edition.NONE)
SLICE = HOUR

# The raw level is read one hour at a time (a level's buckets divide the hour, so none is split):
# an hour's groups aggregate in memory and land sorted by the primary key, where a whole day in one
# aggregate spilled 1.5 GB to temp files and inserted in hash order (a day of 1-minute rollups for
# 2,500 series: 85 s before, 35 s now). Windows start on a bucket boundary; the last slice ends at
# the window's end.
FROM_RAW = """
INSERT INTO {target} ({columns})
SELECT rollup.*
FROM generate_series(CAST(:start AS timestamptz), CAST(:end AS timestamptz) - INTERVAL '1 microsecond',
                     INTERVAL '{slice_seconds} seconds') AS slice(start)
CROSS JOIN LATERAL (
    SELECT series_id, date_bin(INTERVAL '{seconds} seconds', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
           count(value), min(value), max(value), sum(value) / count(value), sum(value), {first_last}
    FROM tds.telemetry_raw
    WHERE value IS NOT NULL AND ts >= slice.start AND ts < LEAST(slice.start + INTERVAL '{slice_seconds} seconds', :end)
    GROUP BY 1, 2
    ORDER BY 1, 2
) AS rollup
"""

FROM_LEVEL = """
INSERT INTO {target} ({columns})
SELECT series_id, date_bin(INTERVAL '{seconds} seconds', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       sum(n)::bigint, min(min), max(max), sum(sum) / sum(n), sum(sum), {first_last}
FROM {source}
WHERE bucket >= :start AND bucket < :end
GROUP BY 1, 2
"""

# first/last of a group by time. TimescaleDB's first()/last() keep one value per group and let the
# database hash-aggregate; plain PostgreSQL has no such aggregate, so it sorts each group twice.
FIRST_LAST = {
    Edition.APACHE: "first({value}, {time}), last({value_last}, {time})",
    Edition.NONE: "(array_agg({value} ORDER BY {time}))[1], (array_agg({value_last} ORDER BY {time} DESC))[1]",
}

DELETE_WINDOW = "DELETE FROM {target} WHERE bucket >= :start AND bucket < :end"
COUNT_WINDOW = "SELECT count(*) FROM {target} WHERE bucket >= :start AND bucket < :end"

# Two refreshes of one level at once would both delete and then collide on insert.
LOCK_LEVEL = text("SELECT pg_advisory_xact_lock(hashtext(:level))")

# An hour of a large fleet's readings (2,500 series every 10 s: ~110 MB of groups) aggregates and
# sorts in memory instead of temp files; scoped to the refresh transaction, which runs one per level
# at a time. Measured on a day of that fleet: 64 MB 46 s, 128 MB 39 s, 256 MB 35 s for the 1m level.
REFRESH_WORK_MEM = text("SET LOCAL work_mem = '256MB'")

# Must run outside a transaction (TimescaleDB refuses otherwise).
CAGG_REFRESH = text(
    "CALL refresh_continuous_aggregate(CAST(:relation AS regclass), "
    "CAST(:start AS timestamptz), CAST(:end AS timestamptz))"
)


def insert_sql(level: RollupLevel, edition: Edition) -> TextClause:
    source = LEVELS_BY_NAME.get(level.source)
    if source is None:
        if SLICE % level.width:
            raise ValueError(f"{level.name}: a level read from raw readings needs buckets that divide {SLICE}")
        first_last = FIRST_LAST[edition].format(value="value", value_last="value", time="ts")
        template = FROM_RAW
    else:
        first_last = FIRST_LAST[edition].format(value="first", value_last="last", time="bucket")
        template = FROM_LEVEL
    return text(template.format(
        target=level.data_table, columns=COLUMNS, seconds=int(level.width.total_seconds()),
        source=source.data_table if source else "", first_last=first_last,
        slice_seconds=int(SLICE.total_seconds()),
    ))


INSERT = {(edition, level.name): insert_sql(level, edition) for edition in TABLE_EDITIONS for level in LEVELS}
DELETE = {level.name: text(DELETE_WINDOW.format(target=level.data_table)) for level in LEVELS}
COUNT = {level.name: text(COUNT_WINDOW.format(target=level.data_table)) for level in LEVELS}
