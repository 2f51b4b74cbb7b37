"""`tds bench quality`: interval inference, one hourly quality partition, the rollups and the raw
readings' bytes on disk (before and after compression) over a generated day of data.

Times exactly what the Dagster assets run (`refresh_intervals`, `judge_hours`, the rollup `refresh`)
in a database of its own, without Dagster's own run overhead; nothing here asserts a speed (the
report compares targets), and it never touches another database.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from tds_platform.bench.ingest import bench_stack
from tds_platform.db.edition import detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.quality.runner import judge_hours, refresh_intervals
from tds_platform.quality.settings import QualitySettings
from tds_platform.retention.compression import compress_settled
from tds_platform.rollups.levels import LEVELS
from tds_platform.rollups.refresh import refresh
from tds_platform.stack import LocalStack

BENCH_DATABASE = "tds_bench_quality"
TENANT = "tdsbench"
# A fixed past day, so runs are comparable; the judged hour is its last, judged as it closes.
DAY = datetime(2026, 1, 1, tzinfo=UTC)
HOURS = 24
JUDGED_HOUR = DAY + timedelta(hours=HOURS - 1)
JUDGED_UNTIL = DAY + timedelta(hours=HOURS)
# Targets by fleet size (issue 19); other sizes are measured for the growth curve without a target.
HOUR_TARGETS_S = {2_500: 1.0, 25_000: 10.0}
COLD_RATIO_TARGET = 2.0  # a cold partition (nothing remembered) against a warm one
ROLLUP_TARGET_S = 15.0  # a whole day of 2,500 series
ROLLUP_TARGET_SERIES = 2_500
COMPRESSED_RATIO_TARGET = 0.10  # compressed bytes per reading against raw
# 1 reading in BAD_EVERY is flagged bad (quality 2), spread over series and time.
BAD_EVERY = 200

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Silence:
    """Series number i % SILENCE_MODULUS == residue say nothing for `minutes` from `start` (whole minutes,
    so every rollup count stays exact)."""

    residue: int
    start: timedelta
    minutes: int

    def series_hit(self, series: int) -> int:
        return sum(1 for i in range(series) if i % SILENCE_MODULUS == self.residue)


SILENCE_MODULUS = 50  # 2% of the series have each silence
# One inside the judged hour (each is a gap there), one earlier in the day (rollups only).
HOUR_SILENCE = Silence(residue=7, start=timedelta(hours=23, minutes=20), minutes=10)
MORNING_SILENCE = Silence(residue=13, start=timedelta(hours=6), minutes=30)
SILENCES = (HOUR_SILENCE, MORNING_SILENCE)


@dataclass(frozen=True)
class QualityBenchOptions:
    equipment: int = 500
    metrics: int = 5
    interval_s: int = 10  # must divide 60: every minute holds the same number of readings
    # The day's last `hours` are generated (the judged hour is always the last): fewer hours make a
    # large fleet affordable to generate, at the price of inferring intervals from less history.
    hours: int = HOURS

    def __post_init__(self) -> None:
        if not 1 <= self.hours <= HOURS:
            raise ValueError(f"hours must be between 1 and {HOURS}")

    @property
    def series(self) -> int:
        return self.equipment * self.metrics

    @property
    def start(self) -> datetime:
        return JUDGED_UNTIL - timedelta(hours=self.hours)

    def silences(self) -> tuple[Silence, ...]:
        """The silences that fall inside the generated hours."""
        return tuple(s for s in SILENCES if DAY + s.start >= self.start)

    @property
    def readings_per_minute(self) -> int:
        return 60 // self.interval_s

    def silent_readings(self, silence: Silence) -> int:
        return silence.series_hit(self.series) * silence.minutes * self.readings_per_minute

    @property
    def raw_rows(self) -> int:
        full = self.series * self.hours * 60 * self.readings_per_minute
        return full - sum(self.silent_readings(s) for s in self.silences())

    @property
    def hour_readings(self) -> int:
        return self.series * 60 * self.readings_per_minute - self.silent_readings(HOUR_SILENCE)

    def rollup_rows(self, level: str) -> int:
        silent_minutes = sum(s.series_hit(self.series) * s.minutes for s in self.silences())
        return {"telemetry_1m": self.series * self.hours * 60 - silent_minutes,
                "telemetry_1h": self.series * self.hours, "telemetry_1d": self.series}[level]

    @property
    def hour_target_s(self) -> float | None:
        return HOUR_TARGETS_S.get(self.series)

    @property
    def rollup_target_s(self) -> float | None:
        """Only a whole day of the target fleet has one."""
        return ROLLUP_TARGET_S if self.series == ROLLUP_TARGET_SERIES and self.hours == HOURS else None


# A smoke run: 12 series (one of them silent in the judged hour), about a second of work.
QUICK = QualityBenchOptions(equipment=4, metrics=3)

SEED_EQUIPMENT = """
INSERT INTO tds.equipment (tenant, equipment, site, first_seen)
SELECT %(tenant)s, format('eq-%%s', lpad(e::text, 6, '0')), format('site-%%s', e %% 10), %(day)s
FROM generate_series(0, %(equipment)s - 1) AS e
"""

# The writer registers series with unit only: expected_interval_s stays NULL, so the quality run
# must infer every interval, as it does in production.
SEED_SERIES = """
INSERT INTO tds.metric_spec (tenant, equipment, metric, unit, first_seen)
SELECT %(tenant)s, format('eq-%%s', lpad(e::text, 6, '0')), format('metric_%%s', m), 'u', %(day)s
FROM generate_series(0, %(equipment)s - 1) AS e CROSS JOIN generate_series(0, %(metrics)s - 1) AS m
ORDER BY e, m
"""

# Time-major, like a live fleet's data arriving: each chunk's heap holds an hour's readings together.
SEED_READINGS = """
INSERT INTO tds.telemetry_raw (series_id, ts, value, quality)
SELECT s.series_id, %(day)s::timestamptz + make_interval(secs => k * %(interval_s)s),
       20 + 5 * sin(k / 360.0 + s.i),
       CASE WHEN (k + s.i) %% %(bad_every)s = 0 THEN 2 ELSE 0 END
FROM generate_series(0, %(readings)s - 1) AS k
CROSS JOIN (SELECT series_id, (row_number() OVER (ORDER BY series_id) - 1)::int AS i FROM tds.metric_spec) AS s
"""

CUT_SILENCE = """
DELETE FROM tds.telemetry_raw r
USING (SELECT series_id, (row_number() OVER (ORDER BY series_id) - 1)::int AS i FROM tds.metric_spec) AS s
WHERE r.series_id = s.series_id AND s.i %% %(modulus)s = %(residue)s
  AND r.ts >= %(start)s AND r.ts < %(end)s
"""

# Every index of the raw readings as the migrations made them (the primary key, the edition's time
# index): the seed drops them, generates the readings, and builds them again. Inserted time-major,
# 100,000 series touch 100,000 leaf pages of the primary key per generated second, far more than
# shared_buffers holds, and the load crawled (over 15 minutes for 72 M readings); a bulk build
# gives the same indexes, packed as tight as a CREATE INDEX packs them.
RAW_INDEXES = """
SELECT c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_def,
       i.indexrelid::regclass::text AS index_name, pg_get_indexdef(i.indexrelid) AS index_def
FROM pg_index i
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE i.indrelid = 'tds.telemetry_raw'::regclass
"""
RAW_ROWS = "SELECT count(*) FROM tds.telemetry_raw"
REMEMBERED_INTERVALS = "SELECT count(inferred_interval_s) FROM tds.metric_spec"


class QualityBenchDatabase:
    """`tds_bench_quality` in the stack's cluster: created fresh, migrated, seeded, measured, dropped."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        # What is measured runs as Dagster's login, as in production; seeding and VACUUM as the owner.
        self.url = stack.database_url(BENCH_DATABASE)
        self.owner_url = stack.database_url(BENCH_DATABASE, login="tds_owner")

    def create(self) -> None:
        self.stack.postgres.create_database(BENCH_DATABASE)

    def drop(self) -> None:
        engine_for(self.url).dispose()
        self.stack.postgres.drop_database(BENCH_DATABASE)

    def seed(self, options: QualityBenchOptions) -> dict[str, Any]:
        """The generated hours of readings, then the silences cut out of them; VACUUM ANALYZE as
        autovacuum would have left a day-old table (visibility map set, statistics current)."""
        params = {"tenant": TENANT, "day": options.start, "equipment": options.equipment, "metrics": options.metrics}
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            conn.execute(SEED_EQUIPMENT, params)
            conn.execute(SEED_SERIES, params)
            indexes = conn.cursor(row_factory=namedtuple_row).execute(RAW_INDEXES).fetchall()
            for index in indexes:
                conn.execute(f"ALTER TABLE tds.telemetry_raw DROP CONSTRAINT {index.constraint_name}"
                             if index.constraint_name else f"DROP INDEX {index.index_name}")
            started = time.monotonic()
            conn.execute(SEED_READINGS, {**params, "interval_s": options.interval_s, "bad_every": BAD_EVERY,
                                         "readings": options.hours * 3600 // options.interval_s})
            for silence in options.silences():
                start = DAY + silence.start
                conn.execute(CUT_SILENCE, {"modulus": SILENCE_MODULUS, "residue": silence.residue, "start": start,
                                           "end": start + timedelta(minutes=silence.minutes)})
            generated = time.monotonic() - started
            started = time.monotonic()
            for index in indexes:
                conn.execute(f"ALTER TABLE tds.telemetry_raw ADD CONSTRAINT {index.constraint_name} "
                             f"{index.constraint_def}" if index.constraint_name else index.index_def)
            indexed = time.monotonic() - started
            started = time.monotonic()
            conn.execute("VACUUM ANALYZE")
            vacuumed = time.monotonic() - started
            rows = conn.execute(RAW_ROWS).fetchone()[0]  # type: ignore[index]
        return {"raw_rows": rows, "raw_rows_expected": options.raw_rows, "series": options.series,
                "generate_s": round(generated, 2), "generate_rows_per_s": round(rows / generated),
                "index_build_s": round(indexed, 2), "vacuum_analyze_s": round(vacuumed, 2)}

    def remembered_intervals(self) -> int:
        with psycopg.connect(self.url) as conn:
            return int(conn.execute(REMEMBERED_INTERVALS).fetchone()[0])  # type: ignore[index]

    def server_version(self) -> str:
        with psycopg.connect(self.url) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def _rate(rows: int, seconds: float) -> float:
    return round(rows / seconds, 1) if seconds > 0 else 0.0


def intervals_step(database: QualityBenchDatabase, options: QualityBenchOptions) -> dict[str, Any]:
    """The series_intervals asset's work: every series' median spacing over the 24 h before the
    judged hour closes (the whole generated day), remembered."""
    started = time.monotonic()
    refreshed = refresh_intervals(engine_for(database.url), JUDGED_UNTIL)
    seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 3), "readings": options.raw_rows, "readings_per_s": _rate(options.raw_rows, seconds),
        "series_inferred": refreshed.inferred, "series_expected": options.series,
        "intervals_remembered_after": database.remembered_intervals(),
    }


def judge_step(database: QualityBenchDatabase, options: QualityBenchOptions, settings: QualitySettings,
               label: str, intervals_known: bool) -> dict[str, Any]:
    """One hourly quality partition, exactly as the asset runs it: the day's last hour, as it closes.
    Without `intervals_known` (a cold start) every series is expected pending: no interval, so no
    gaps, and none inferred inline."""
    started = time.monotonic()
    judged = judge_hours(engine_for(database.url), JUDGED_HOUR, JUDGED_UNTIL, JUDGED_UNTIL, settings.gap_factor)
    seconds = time.monotonic() - started
    intervals = judged.series["interval_s"].astype("float64")
    judged_series = options.series if intervals_known else 0
    return {
        "run": label, "seconds": round(seconds, 3), "readings": options.hour_readings,
        "readings_per_s": _rate(options.hour_readings, seconds),
        "quality_rows": judged.rows_written, "quality_rows_expected": options.series,
        "gaps": len(judged.gaps),
        "gaps_expected": HOUR_SILENCE.series_hit(options.series) if intervals_known else 0,
        "series_at_interval": int((intervals == options.interval_s).sum()),
        "series_at_interval_expected": judged_series,
        "series_pending": judged.pending, "series_pending_expected": options.series - judged_series,
        "intervals_remembered_after": database.remembered_intervals(),
    }


def rollup_step(database: QualityBenchDatabase, options: QualityBenchOptions) -> dict[str, Any]:
    """The generated hours' rollups 1m -> 1h -> 1d, each level over the whole day in one refresh, as
    a single-run backfill of the day does."""
    engine, edition = engine_for(database.url), detect_edition_url(database.url)
    levels = []
    for level in LEVELS:
        result = refresh(engine, edition, level, DAY, DAY + timedelta(hours=HOURS))
        levels.append({"level": level.name, "rows_written": result.rows_written,
                       "rows_expected": options.rollup_rows(level.name), "seconds": round(result.duration_s, 3)})
    seconds = sum(level["seconds"] for level in levels)
    return {"levels": levels, "seconds": round(seconds, 3), "raw_rows": options.raw_rows,
            "raw_rows_per_s": _rate(options.raw_rows, seconds), "target_s": options.rollup_target_s}


# Bytes of the raw readings on disk, heap and indexes (compressed chunks included on the full edition).
RAW_BYTES = {True: "SELECT hypertable_size('tds.telemetry_raw')",
             False: "SELECT pg_total_relation_size('tds.telemetry_raw')"}
def storage_step(database: QualityBenchDatabase, options: QualityBenchOptions) -> dict[str, Any]:
    """Bytes per stored reading as written, then (full edition) after compressing every chunk through
    what the apply_retention job runs for chunks past the late-data window (as Dagster's login)."""
    edition = detect_edition_url(database.url)
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        raw = int(conn.execute(RAW_BYTES[edition.has_hypertables]).fetchone()[0])  # type: ignore[index]
        result: dict[str, Any] = {"readings": options.raw_rows, "raw_bytes": raw,
                                  "raw_bytes_per_reading": round(raw / options.raw_rows, 2),
                                  "compressed_ratio_target": COMPRESSED_RATIO_TARGET}
        started = time.monotonic()
        # Every generated chunk is past the window as of a day after the judged hour.
        done = compress_settled(engine_for(database.url), edition, timedelta(0), JUDGED_UNTIL + timedelta(days=1))
        seconds = time.monotonic() - started
        if done.unavailable:
            return {**result, "compression": done.unavailable}
        compressed = int(conn.execute(RAW_BYTES[True]).fetchone()[0])  # type: ignore[index]
    return {**result, "compression": "compressed", "chunks_compressed": len(done.chunks),
            "compress_s": round(seconds, 2),
            "compressed_bytes": compressed, "compressed_bytes_per_reading": round(compressed / options.raw_rows, 2),
            "compressed_ratio": round(compressed / raw, 4)}


def _environment(stack: LocalStack, mode: str, database: QualityBenchDatabase) -> dict[str, Any]:
    return {
        "stack": mode, "durable": stack.layout.durable,
        "postgres": database.server_version(), "timescaledb_edition": detect_edition_url(database.url).value,
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
    }


def run_quality_bench(options: QualityBenchOptions, stack_dir: Path | None, echo: Echo) -> dict[str, Any]:
    """Generate the day, judge its last hour cold (nothing remembered), infer every interval as
    series_intervals does, judge the hour again (intervals known), roll the day up."""
    started = datetime.now(UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    settings = QualitySettings()
    with bench_stack(stack_dir, echo) as (stack, mode):
        database = QualityBenchDatabase(stack)
        database.create()
        try:
            echo(f"generating {options.hours} h of {options.series:,} series every {options.interval_s} s "
                 f"({options.raw_rows:,} readings) ...")
            data = database.seed(options)
            echo("judging the last hour with no interval remembered (a cold start: every series pending) ...")
            cold = judge_step(database, options, settings, "cold", intervals_known=False)
            echo("inferring every series' interval from its 24 h of readings, as series_intervals does ...")
            intervals = intervals_step(database, options)
            echo("judging the last hour again as the 5-minute schedule does, every interval known ...")
            known = judge_step(database, options, settings, "known", intervals_known=True)
            echo("rolling the day up 1m -> 1h -> 1d ...")
            rollups = rollup_step(database, options)
            echo("measuring the readings' bytes on disk, then compressing them where the edition can ...")
            storage = storage_step(database, options)
            result: dict[str, Any] = {
                "benchmark": "tds bench quality",
                "started_at": started.isoformat(),
                "options": {**asdict(options), "series": options.series, "day": DAY.date().isoformat(),
                            "gap_factor": settings.gap_factor, "bad_every": BAD_EVERY,
                            "silences": [{**asdict(s), "start": str(s.start), "modulus": SILENCE_MODULUS}
                                         for s in options.silences()]},
                "environment": _environment(stack, mode, database),
                "data": data,
                "quality": {"hour": JUDGED_HOUR.isoformat(), "target_s": options.hour_target_s,
                            "cold_ratio_target": COLD_RATIO_TARGET,
                            "intervals": intervals, "known": known, "cold": cold},
                "rollups": rollups,
                "storage": storage,
            }
        finally:
            database.drop()
    result["load_1m"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result
