"""The benchmark's own database in the stack's cluster: created fresh, migrated, seeded, measured, dropped.

It never reads or writes the stack's `tds` database: every statement here runs in `tds_bench`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from tds_platform.bench.shapes import BACKLOG_START, SITE, TENANT, MessageShape
from tds_platform.db.edition import detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.stack import LocalStack

BENCH_DATABASE = "tds_bench"
WRITER_LOGIN = "tds_ingest"

SEED_EQUIPMENT = """
INSERT INTO tds.equipment (tenant, equipment, site)
SELECT %(tenant)s, e, %(site)s FROM unnest(%(equipment)s::text[]) AS e
ON CONFLICT DO NOTHING
"""

SEED_SERIES = """
INSERT INTO tds.metric_spec (tenant, equipment, metric, unit)
SELECT %(tenant)s, e, m, '°C' FROM unnest(%(equipment)s::text[]) AS e CROSS JOIN unnest(%(metrics)s::text[]) AS m
ON CONFLICT DO NOTHING
"""

# Equipment-major, metric-minor: position e * P + k is message n's k-th point when n % E = e.
SERIES_IDS = """
SELECT s.series_id
FROM unnest(%(equipment)s::text[]) WITH ORDINALITY AS e(equipment, e_pos)
CROSS JOIN unnest(%(metrics)s::text[]) WITH ORDINALITY AS m(metric, m_pos)
JOIN tds.metric_spec s ON s.tenant = %(tenant)s AND s.equipment = e.equipment AND s.metric = m.metric
ORDER BY e.e_pos, m.m_pos
"""

# The database ceiling: exactly the rows the writer lands for the same backlog, made server-side.
CEILING_INSERT = """
INSERT INTO tds.telemetry_raw (series_id, ts, value, quality)
SELECT (%(series)s::int[])[1 + (g.n %% %(equipment)s) * %(points)s + k.k],
       %(start)s::timestamptz + make_interval(secs => g.n / %(equipment)s),
       (g.n %% 1000) / 10.0 + k.k,
       0
FROM generate_series(0, %(messages)s - 1) AS g(n) CROSS JOIN generate_series(0, %(points)s - 1) AS k(k)
ON CONFLICT (series_id, ts) DO NOTHING
"""

EMPTY_LANDING = "TRUNCATE tds.telemetry_raw, tds.dlq"

LANDED = """
SELECT count(*), count(DISTINCT series_id), (SELECT count(*) FROM tds.dlq)
FROM tds.telemetry_raw
"""

# ingested_at is now() of the writer's batch transaction: when the batch write began, not its commit.
TS_TO_INGESTED = """
SELECT count(*),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - ts))
FROM tds.telemetry_raw WHERE ts >= %(since)s
"""


@dataclass
class Landed:
    rows: int
    series: int
    dead_letters: int


class BenchDatabase:
    """`tds_bench` in the stack's cluster; the writer logs in as the platform's writer role."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        # The harness seeds, empties and counts as the owner; the writer under test logs in as itself.
        self.url = stack.database_url(BENCH_DATABASE, login="tds_owner")
        self.writer_url = stack.database_url(BENCH_DATABASE, login=WRITER_LOGIN)

    def create(self, shapes: list[MessageShape]) -> None:
        """A fresh migrated database (any earlier benchmark's is dropped), seeded with every series."""
        self.stack.postgres.create_database(BENCH_DATABASE)
        widest = max(shapes, key=lambda s: s.points)
        with psycopg.connect(self.url, autocommit=True) as conn:
            params = {"tenant": TENANT, "site": SITE, "equipment": widest.equipment_names, "metrics": widest.metrics}
            conn.execute(SEED_EQUIPMENT, params)
            conn.execute(SEED_SERIES, params)

    def drop(self) -> None:
        engine_for(self.url).dispose()
        self.stack.postgres.drop_database(BENCH_DATABASE)

    def edition(self) -> str:
        return detect_edition_url(self.url).value

    def server_version(self) -> str:
        with psycopg.connect(self.url) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]

    def empty_landing(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(EMPTY_LANDING)

    def series_ids(self, shape: MessageShape) -> list[int]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(SERIES_IDS, {"tenant": TENANT, "equipment": shape.equipment_names,
                                             "metrics": shape.metrics}).fetchall()
        return [r[0] for r in rows]

    def insert_ceiling(self, shape: MessageShape, messages: int) -> tuple[int, float]:
        """(rows inserted, seconds) for one server-side INSERT ... SELECT of the backlog's rows."""
        series = self.series_ids(shape)
        with psycopg.connect(self.url, autocommit=True) as conn:
            started = time.monotonic()
            cursor = conn.execute(CEILING_INSERT, {"series": series, "equipment": shape.equipment,
                                                   "points": shape.points, "start": BACKLOG_START,
                                                   "messages": messages})
            return cursor.rowcount, time.monotonic() - started

    def landed(self) -> Landed:
        with psycopg.connect(self.url) as conn:
            rows, series, dead = conn.execute(LANDED).fetchone()  # type: ignore[misc]
        return Landed(rows, series, dead)

    def ts_to_ingested(self, since: datetime) -> tuple[int, list[float]]:
        """(rows, [p50, p95, p99] seconds) from each reading's own timestamp to its batch's ingested_at."""
        with psycopg.connect(self.url) as conn:
            count, percentiles = conn.execute(TS_TO_INGESTED, {"since": since}).fetchone()  # type: ignore[misc]
        return count, list(percentiles or [])
