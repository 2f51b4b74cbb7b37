"""The new-gap sensor (each gap requested once, thresholds, bound per tick) against a real database and instance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.jobs import build_backfill_job
from tds_platform.defs.backfill.sensors import build_new_gap_sensor
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings

NOW = datetime.now(UTC)
SETTINGS = BackfillSettings(open_gap_min_age_s=900, max_requests_per_tick=2, lookback_days=7)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


def add_gap(url: str, metric: str, start: datetime, end: datetime | None, status: str = "none",
            cleared: bool = False) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "INSERT INTO tds.gaps (tenant, equipment, metric, gap_start, gap_end, backfill_status, cleared_at) "
            "VALUES ('acme', 'ch-1', %s, %s, %s, %s, %s) RETURNING id",
            (metric, start, end, status, NOW if cleared else None)).fetchone()[0]


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, url: str,
         cursor: str | None) -> tuple[list[int], str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"database": DatabaseResource(url=url)})
    result = sensor(context)
    requested = [int(request.tags["tds/gap_id"]) for request in result.run_requests or []]
    for request in result.run_requests or []:
        assert request.run_key == f"gap-{request.tags['tds/gap_id']}"
        assert request.run_config["ops"]["backfill_gap"]["config"]["gap_id"] == int(request.tags["tds/gap_id"])
    return requested, result.cursor


def test_each_gap_is_requested_once_across_ticks(database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS, QualitySettings()), SETTINGS)
    closed = add_gap(database_url, "a", NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    open_long = add_gap(database_url, "b", NOW - timedelta(hours=1), None)
    open_late = add_gap(database_url, "c", NOW - timedelta(hours=2, minutes=30), None)
    add_gap(database_url, "d", NOW - timedelta(minutes=5), None)  # open, not silent long enough yet
    add_gap(database_url, "e", NOW - timedelta(hours=4), NOW - timedelta(hours=3), status="filled")
    add_gap(database_url, "f", NOW - timedelta(hours=4), NOW - timedelta(hours=3), cleared=True)
    add_gap(database_url, "g", NOW - timedelta(days=8), NOW - timedelta(days=8) + timedelta(minutes=5))

    first, cursor = tick(sensor, instance, database_url, None)
    assert first == [closed, open_late], "oldest first, at most max_requests_per_tick"
    second, cursor = tick(sensor, instance, database_url, cursor)
    assert second == [open_long]
    third, cursor = tick(sensor, instance, database_url, cursor)
    assert third == []

    new = add_gap(database_url, "h", NOW - timedelta(minutes=50), NOW - timedelta(minutes=40))
    fourth, cursor = tick(sensor, instance, database_url, cursor)
    assert fourth == [new]
    assert tick(sensor, instance, database_url, cursor)[0] == []


def test_the_cursor_forgets_gaps_once_their_run_marked_them(database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS, QualitySettings()), SETTINGS)
    gap_id = add_gap(database_url, "a", NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    _, cursor = tick(sensor, instance, database_url, None)
    assert cursor == f"[{gap_id}]"
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE tds.gaps SET backfill_status = 'requested' WHERE id = %s", (gap_id,))

    requested, cursor = tick(sensor, instance, database_url, cursor)

    assert requested == [] and cursor == "[]"
