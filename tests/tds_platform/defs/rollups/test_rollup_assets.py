"""Rollup assets over real databases (every TimescaleDB edition here, plain PostgreSQL) and a real Dagster instance.

Fixture readings go straight into tds.telemetry_raw; every rollup is compared with the same
numbers computed here in Python.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from tds_platform.db.edition import Edition, detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.defs.partitions import range_tags
from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.rollups.assets import build_rollup_assets
from tds_platform.retention.policy import RetentionSettings
from tds_platform.rollups.levels import LEVELS
from tds_platform.rollups.refresh import refresh
from tds_platform.rollups.sql import CAGG_REFRESH
from tds_platform.time_windows import floor_to_bucket

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# Three whole days, well inside every retention horizon.
FIRST_DAY = floor_to_bucket(datetime.now(UTC), DAY) - 4 * DAY

Reading = tuple[int, datetime, float]


def add_series(conn: psycopg.Connection, tenant: str, equipment: str, metric: str) -> int:
    conn.execute("INSERT INTO tds.equipment (tenant, equipment, site) VALUES (%s, %s, 'plant') "
                 "ON CONFLICT DO NOTHING", (tenant, equipment))
    row = conn.execute("INSERT INTO tds.metric_spec (tenant, equipment, metric) VALUES (%s, %s, %s) "
                       "RETURNING series_id", (tenant, equipment, metric)).fetchone()
    assert row is not None
    return int(row[0])


def add_readings(conn: psycopg.Connection, readings: Iterable[Reading]) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, %s)", list(readings))


def expected(readings: Iterable[Reading], width: timedelta) -> dict[tuple[int, datetime], tuple]:
    """n, min, max, avg, sum, first, last per (series, bucket), computed without the database."""
    groups: dict[tuple[int, datetime], list[tuple[datetime, float]]] = defaultdict(list)
    for series_id, ts, value in readings:
        groups[(series_id, floor_to_bucket(ts, width))].append((ts, value))
    out = {}
    for key, points in groups.items():
        points.sort()
        values = [v for _, v in points]
        out[key] = (len(values), min(values), max(values), sum(values) / len(values), sum(values),
                    values[0], values[-1])
    return out


def stored(url: str, name: str, start: datetime, end: datetime) -> dict[tuple[int, datetime], tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT series_id, bucket, n, min, max, avg, sum, first, last FROM tds.{name}_data "  # name: fixed below
            "WHERE bucket >= %s AND bucket < %s", (start, end)).fetchall()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def assert_same(actual: dict, wanted: dict) -> None:
    assert actual.keys() == wanted.keys()
    for key, numbers in wanted.items():
        assert actual[key] == pytest.approx(numbers, rel=1e-12), key


def hour_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M")


def day_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


@pytest.fixture
def fleet(any_database: str) -> tuple[str, list[Reading]]:
    """Two numeric series over three days (one reading a minute, uneven seconds) and a text reading."""
    readings: list[Reading] = []
    with psycopg.connect(any_database) as conn:
        temp = add_series(conn, "acme", "chiller-1", "temp")
        power = add_series(conn, "acme", "chiller-1", "power")
        state = add_series(conn, "acme", "chiller-1", "state")
        for i in range(3 * 24 * 60):
            ts = FIRST_DAY + i * MINUTE + timedelta(seconds=(i * 7) % 50)
            readings.append((temp, ts, 7 + 3 * math.sin(i / 30)))
            if i % 2 == 0:
                readings.append((power, ts + timedelta(seconds=3), 100 + (i % 17) * 1.5))
        add_readings(conn, readings)
        conn.execute("INSERT INTO tds.telemetry_raw (series_id, ts, value, value_text) VALUES (%s, %s, NULL, 'on')",
                     (state, FIRST_DAY + HOUR))
    return any_database, readings


def materialize(url: str, instance: dg.DagsterInstance, names: list[str], first: str,
                last: str) -> dg.ExecuteInProcessResult:
    assets = [a for a in build_rollup_assets(RetentionSettings()) if a.key.to_user_string() in names]
    return dg.materialize(assets, instance=instance, resources={"database": DatabaseResource(url=url)},
                          tags=range_tags(dg.PartitionKeyRange(first, last)))


def test_backfill_of_three_days_is_one_run_per_job_and_matches_independent_numbers(
    fleet: tuple[str, list[Reading]],
) -> None:
    url, readings = fleet
    end = FIRST_DAY + 3 * DAY
    with dg.DagsterInstance.ephemeral() as instance:
        hourly = materialize(url, instance, ["telemetry_1m", "telemetry_1h"], hour_key(FIRST_DAY), hour_key(end - HOUR))
        daily = materialize(url, instance, ["telemetry_1d"], day_key(FIRST_DAY), day_key(end - DAY))
        assert hourly.success and daily.success
        assert len(instance.get_runs()) == 2
        materialized = instance.get_materialized_partitions(dg.AssetKey("telemetry_1m"))
        assert len(materialized) == 72

    assert_same(stored(url, "telemetry_1m", FIRST_DAY, end), expected(readings, MINUTE))
    assert_same(stored(url, "telemetry_1h", FIRST_DAY, end), expected(readings, HOUR))
    assert_same(stored(url, "telemetry_1d", FIRST_DAY, end), expected(readings, DAY))

    metadata = hourly.asset_materializations_for_node("telemetry_1m")[0].metadata
    assert metadata["rows_written"].value == len(expected(readings, MINUTE))
    assert metadata["edition"].value == detect_edition_url(url).value
    assert metadata["window_start"].value == FIRST_DAY.isoformat()
    assert metadata["window_end"].value == end.isoformat()
    assert metadata["duration_s"].value >= 0


def test_views_carry_the_contract_columns(fleet: tuple[str, list[Reading]]) -> None:
    url, _ = fleet
    with dg.DagsterInstance.ephemeral() as instance:
        materialize(url, instance, ["telemetry_1m", "telemetry_1h"], hour_key(FIRST_DAY), hour_key(FIRST_DAY))
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT DISTINCT tenant, site, equipment, metric FROM tds.telemetry_1h").fetchall()
    assert sorted(rows) == [("acme", "plant", "chiller-1", "power"), ("acme", "plant", "chiller-1", "temp")]


def test_late_reading_is_picked_up_by_a_rerun_of_its_partition_and_nothing_else_moves(
    fleet: tuple[str, list[Reading]],
) -> None:
    url, readings = fleet
    hour = FIRST_DAY + 5 * HOUR
    with dg.DagsterInstance.ephemeral() as instance:
        materialize(url, instance, ["telemetry_1m", "telemetry_1h"], hour_key(FIRST_DAY), hour_key(hour + HOUR))
        before_next_hour = stored(url, "telemetry_1m", hour + HOUR, hour + 2 * HOUR)
        late = (readings[0][0], hour + timedelta(minutes=10, seconds=55), 1000.0)
        with psycopg.connect(url) as conn:
            add_readings(conn, [late])
        assert stored(url, "telemetry_1h", hour, hour + HOUR)[(late[0], hour)][2] < 1000.0  # not yet re-run
        materialize(url, instance, ["telemetry_1m", "telemetry_1h"], hour_key(hour), hour_key(hour))

    fixed = stored(url, "telemetry_1h", hour, hour + HOUR)[(late[0], hour)]
    assert fixed == pytest.approx(expected([*readings, late], HOUR)[(late[0], hour)])
    assert fixed[2] == 1000.0
    assert stored(url, "telemetry_1m", hour + HOUR, hour + 2 * HOUR) == before_next_hour


def test_window_older_than_the_source_retention_is_left_alone(fleet: tuple[str, list[Reading]]) -> None:
    url, _ = fleet
    assets = build_rollup_assets(RetentionSettings(raw_days=1))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([assets[0]], instance=instance, resources={"database": DatabaseResource(url=url)},
                                partition_key=hour_key(FIRST_DAY))
    assert result.asset_materializations_for_node("telemetry_1m")[0].metadata["rows_written"].value == 0
    assert stored(url, "telemetry_1m", FIRST_DAY, FIRST_DAY + HOUR) == {}


def test_the_continuous_aggregate_refresh_runs_on_the_full_edition_and_parses_on_apache(
        timescale_database: str) -> None:
    """Dagster's own login refreshes a continuous aggregate (it owns it); the Apache build refuses
    continuous aggregates, but only after parsing and binding our CALL."""
    window = {"relation": "tds.telemetry_1m_data", "start": FIRST_DAY, "end": FIRST_DAY + DAY}
    with engine_for(timescale_database).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if detect_edition_url(timescale_database) is Edition.FULL:
            conn.execute(CAGG_REFRESH, window)
            return
        with pytest.raises(DBAPIError, match=r"(?i)apache|continuous aggregate") as err:
            conn.execute(CAGG_REFRESH, window)
    assert "syntax" not in str(err.value).lower()


def test_a_window_off_the_hour_is_rolled_up_slice_by_slice_exactly_and_nothing_outside_it(
    fleet: tuple[str, list[Reading]],
) -> None:
    """Raw readings are aggregated an hour at a time from the window's start: a window that starts
    and ends between hours (a retention horizon cuts it so) must still come out whole and exact."""
    url, readings = fleet
    start, end = FIRST_DAY + HOUR + 37 * MINUTE, FIRST_DAY + 4 * HOUR + 13 * MINUTE
    result = refresh(engine_for(url), detect_edition_url(url), LEVELS[0], start, end)
    wanted = {key: numbers for key, numbers in expected(readings, MINUTE).items() if start <= key[1] < end}
    assert result.rows_written == len(wanted)
    assert_same(stored(url, "telemetry_1m", FIRST_DAY, FIRST_DAY + DAY), wanted)
