"""Late and replayed readings reach the rollups: a DLQ replay of readings older than the refresh schedules'
trailing hours records their hour (tds.stale_windows), the late_landings sensor reports it as a landing,
the backfill_refresh sensor asks for that hour's rollup and quality partitions, and the row goes.

Against a real database and a real (ephemeral) Dagster instance; the daemon's part — storing a tick's
observations — is done by hand, as in test_sensors.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from ingest_stream.settings import ParsingSettings
from tds_platform.db.engine import engine_for
from tds_platform.definitions import defs
from tds_platform.defs.backfill.late_landings import build_late_landings_sensor
from tds_platform.defs.backfill.sensors import build_refresh_sensor
from tds_platform.defs.resources import DatabaseResource
from tds_platform.replay.replay import ReplaySelection, replay

HOUR_NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
LATE_HOUR = HOUR_NOW - timedelta(hours=6)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


def _dead_letter(url: str, ts: datetime) -> None:
    """A message refused earlier (its tenant's quota) that parses and lands now."""
    payload = json.dumps({"schema": "v1", "ts": ts.isoformat(), "points": [{"name": "temp", "t": "float", "v": 1}]})
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO tds.dlq (topic, payload, reason) VALUES ('tds/acme/p1/ch-1/telem', %s, "
                     "'registry_quota')", (payload.encode(),))


def _stale(url: str) -> list[datetime]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT bucket FROM tds.stale_windows ORDER BY bucket")]


def test_a_replayed_late_reading_gets_its_hour_refreshed(database_url: str, instance: dg.DagsterInstance) -> None:
    _dead_letter(database_url, LATE_HOUR + timedelta(minutes=10))
    _dead_letter(database_url, LATE_HOUR + timedelta(minutes=40))
    report = replay(engine_for(database_url), database_url, ParsingSettings().parser(), ReplaySelection())
    assert report.readings_inserted == 2
    assert _stale(database_url) == [LATE_HOUR]

    late = build_late_landings_sensor()
    resources = {"database": DatabaseResource(url=database_url)}
    result = late(dg.build_sensor_context(instance=instance, resources=resources))
    [observation] = result.asset_events
    for event in result.asset_events:  # what the daemon does with a tick's observations
        instance.report_runless_asset_event(event)

    repository = defs.get_repository_def()
    refresh = build_refresh_sensor()(dg.build_sensor_context(instance=instance, repository_def=repository))
    partition = LATE_HOUR.strftime("%Y-%m-%d-%H:00")
    asked = Counter((frozenset(key.to_user_string() for key in request.asset_selection), request.partition_key)
                    for request in refresh.run_requests)
    assert asked == {(frozenset({"telemetry_1m", "telemetry_1h"}), partition): 1,
                     (frozenset({"quality_hourly", "gaps"}), partition): 1}, "the hour's rollups and quality, once"
    assert observation.metadata["late_landing"].value is True

    # The next tick deletes what the last one reported (its report is stored by then); nothing is left.
    again = late(dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor))
    assert not again.asset_events
    assert _stale(database_url) == []


def test_a_landing_after_the_report_is_reported_again(database_url: str, instance: dg.DagsterInstance) -> None:
    record = "INSERT INTO tds.stale_windows (tenant, bucket) VALUES ('acme', %s)"
    with psycopg.connect(database_url) as conn:
        conn.execute(record, (LATE_HOUR,))
    late = build_late_landings_sensor()
    resources = {"database": DatabaseResource(url=database_url)}
    first = late(dg.build_sensor_context(instance=instance, resources=resources))
    assert len(first.asset_events) == 1
    with psycopg.connect(database_url) as conn:  # the writer lands more in that hour meanwhile
        conn.execute(record, (LATE_HOUR,))
    second = late(dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor))
    assert len(second.asset_events) == 1, "the newer landing is reported, not deleted with the old report"
    assert _stale(database_url) == [LATE_HOUR]
    third = late(dg.build_sensor_context(instance=instance, resources=resources, cursor=second.cursor))
    assert not third.asset_events
    assert _stale(database_url) == []
