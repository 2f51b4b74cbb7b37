"""A small two-tenant fleet landed in a fresh database, the marts built over it once per module.

The readings are generated here in Python and the rollup rows computed from them in SQL, the way
the rollup assets land them; the tests recompute every mart figure from the same Python values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from tds_platform.db.edition import detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.db.urls import libpq_url
from tds_platform.defs.dbt.project import dbt_project
from tds_platform.defs.dbt.resource import platform_dbt
from tds_platform.rollups.levels import LEVELS
from tds_platform.rollups.refresh import refresh
from tests.servers import admin_url

DAY_1 = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = (DAY_1, DAY_1 + timedelta(days=2))
STEP = timedelta(minutes=10)
EXPECTED_PER_HOUR = 6.0


@dataclass(frozen=True)
class Series:
    tenant: str
    site: str
    equipment: str
    metric: str
    first_seen: datetime
    gaps: tuple[tuple[datetime, datetime | None], ...] = ()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


SERIES = (
    Series("acme", "plant-north", "chiller-1", "temp", DAY_1, ((at(1, 10), at(1, 12)),)),
    Series("acme", "plant-north", "chiller-1", "power_kw", DAY_1, ((at(1, 11), at(1, 13)),)),
    Series("acme", "plant-north", "pump-2", "flow", DAY_1, ((at(1, 23), at(2, 1, 30)),)),
    Series("acme", "plant-south", "meter-3", "energy_kwh", DAY_1),
    Series("globex", "hq", "chiller-9", "temp", at(1, 6), ((at(2, 5), at(2, 8)), (at(2, 22), None))),
)


@dataclass
class Reading:
    series: Series
    ts: datetime
    value: float
    quality: int


@dataclass
class Fleet:
    """The loaded database and what was put in it, for tests to recompute the marts from."""

    url: str
    readings: list[Reading]
    series: tuple[Series, ...] = SERIES
    days: tuple[datetime, ...] = (DAY_1, DAY_1 + timedelta(days=1))

    def of(self, equipment: str, metric: str | None = None) -> list[Reading]:
        return [r for r in self.readings
                if r.series.equipment == equipment and (metric is None or r.series.metric == metric)]

    @property
    def admin_url(self) -> str:
        """The superuser: creates analyst logins (an administrator's job) and inspects."""
        return admin_url(self.url)

    def query(self, sql: str, params: dict | None = None, *, url: str | None = None) -> list[dict]:
        """As the platform's login (dbt's), or as whoever `url` names."""
        with psycopg.connect(url or self.url, row_factory=dict_row) as conn:
            return conn.execute(sql, params or {}).fetchall()


def _in_gap(series: Series, ts: datetime) -> bool:
    return any(start < ts and (end is None or ts < end) for start, end in series.gaps)


def generate_readings() -> list[Reading]:
    """Every 10 minutes from first_seen, none inside a gap, every 9th reading bad."""
    readings = []
    for index, series in enumerate(SERIES):
        ts, step = series.first_seen, 0
        while ts < WINDOW[1]:
            if not _in_gap(series, ts):
                value = 1000 + 2.5 * step if series.metric == "energy_kwh" else 10 + 5 * index + (step % 7) * 0.5
                readings.append(Reading(series, ts, value, 2 if step % 9 == 4 else 0))
            ts, step = ts + STEP, step + 1
    return readings


REGISTER_EQUIPMENT = """
INSERT INTO tds.equipment (tenant, equipment, site, first_seen) VALUES (%s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""
REGISTER_METRIC = """
INSERT INTO tds.metric_spec (tenant, equipment, metric, unit, expected_interval_s, first_seen)
VALUES (%s, %s, %s, %s, 600, %s) RETURNING series_id
"""
INSERT_READING = "INSERT INTO tds.telemetry_raw (series_id, ts, value, quality) VALUES (%s, %s, %s, %s)"
INSERT_GAP = """
INSERT INTO tds.gaps (tenant, equipment, metric, gap_start, gap_end, duration_s)
VALUES (%s, %s, %s, %s, %s, extract(epoch from %s::timestamptz - %s::timestamptz))
"""
# One quality row per series and hour since first_seen, 6 readings expected each hour.
QUALITY = """
INSERT INTO tds.quality_hourly (hour, tenant, site, equipment, metric, expected, received, good,
                                coverage_pct, good_pct, gap_count)
SELECT h, s.tenant, e.site, s.equipment, s.metric, %(expected)s, count(r.ts), count(r.ts) FILTER (WHERE r.quality = 0),
       100.0 * least(count(r.ts) / %(expected)s, 1.0),
       CASE WHEN count(r.ts) > 0 THEN 100.0 * count(r.ts) FILTER (WHERE r.quality = 0) / count(r.ts) END, 0
FROM tds.metric_spec s
JOIN tds.equipment e USING (tenant, equipment)
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour', interval '1 hour') h
LEFT JOIN tds.telemetry_raw r ON r.series_id = s.series_id AND r.ts >= h AND r.ts < h + interval '1 hour'
WHERE h >= date_trunc('hour', s.first_seen)
GROUP BY h, s.tenant, e.site, s.equipment, s.metric
"""


def load_fleet(url: str) -> list[Reading]:
    readings = generate_readings()
    with psycopg.connect(libpq_url(url)) as conn:
        series_ids = {}
        for series in SERIES:
            conn.execute(REGISTER_EQUIPMENT, (series.tenant, series.equipment, series.site, series.first_seen))
            unit = "kWh" if series.metric == "energy_kwh" else None
            row = conn.execute(REGISTER_METRIC, (series.tenant, series.equipment, series.metric, unit,
                                                 series.first_seen)).fetchone()
            series_ids[series] = row[0]
            for start, end in series.gaps:
                conn.execute(INSERT_GAP, (series.tenant, series.equipment, series.metric, start, end, end, start))
        with conn.cursor() as cur:
            cur.executemany(INSERT_READING, [(series_ids[r.series], r.ts, r.value, r.quality) for r in readings])
        conn.execute(QUALITY, {"expected": EXPECTED_PER_HOUR, "start": WINDOW[0], "end": WINDOW[1]})
    # The rollups exactly as their assets land them, on whichever edition the database runs.
    engine, edition = engine_for(url), detect_edition_url(url)
    for level in LEVELS:
        refresh(engine, edition, level, *WINDOW)
    return readings


def build_marts(url: str, target_path: Path, start: datetime, end: datetime) -> dict:
    """`dbt build` over [start, end) the way the Dagster asset runs it; returns run_results.json."""
    window_vars = json.dumps({"start": start.isoformat(), "end": end.isoformat()})
    invocation = platform_dbt(dbt_project, url).cli(["build", "--vars", window_vars], target_path=target_path)
    invocation.wait()
    return invocation.get_artifact("run_results.json")


@pytest.fixture(scope="module")
def fleet(new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    url = new_database("dbt")
    readings = load_fleet(url)
    results = build_marts(url, tmp_path_factory.mktemp("dbt-target"), *WINDOW)
    failed = [r["unique_id"] for r in results["results"] if r["status"] not in ("success", "pass")]
    assert not failed, f"dbt build failed: {failed}"
    return Fleet(url=url, readings=readings)
