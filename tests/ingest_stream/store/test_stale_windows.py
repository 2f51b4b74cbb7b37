"""Late landings are recorded: the hours a batch lands readings in after the refreshes stopped rewriting them.

Against a real database as the writer's login: one row per tenant and hour of a batch, in the batch's
transaction, nothing for a batch of recent readings or for a redelivery that landed nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest_stream.handoff import Received
from ingest_stream.store import Batch, TelemetryStore
from ingest_stream.store.stale_windows import stale_before
from tests.batches import batch_of, good_reading, writer_store

NOW = datetime.now(UTC)
HOUR_NOW = NOW.replace(minute=0, second=0, microsecond=0)


def _batch(tenant: str, *stamps: datetime) -> Batch[Received]:
    return batch_of([good_reading(tenant, "plant-1", "ch-1", "temp", ts) for ts in stamps])


@pytest.fixture
def store(database_url: str) -> Iterator[TelemetryStore]:
    with writer_store(database_url) as landing:
        yield landing


def _stale(url: str) -> list[tuple[str, datetime]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT tenant, bucket FROM tds.stale_windows ORDER BY id").fetchall()


def test_late_readings_record_their_hours_once_and_recent_ones_nothing(store: TelemetryStore,
                                                                      database_url: str) -> None:
    assert stale_before(NOW, 2) == HOUR_NOW - timedelta(hours=2)
    store.write(_batch("acme", NOW - timedelta(minutes=5), HOUR_NOW - timedelta(hours=1, minutes=30)))
    assert _stale(database_url) == [], "inside the trailing hours the schedules rewrite"

    late = [HOUR_NOW - timedelta(hours=5, minutes=50), HOUR_NOW - timedelta(hours=5, minutes=10),
            HOUR_NOW - timedelta(days=3)]
    store.write(_batch("acme", *late, NOW))
    store.write(_batch("beta", late[0]))
    expected = [("acme", HOUR_NOW - timedelta(days=3)), ("acme", HOUR_NOW - timedelta(hours=6)),
                ("beta", HOUR_NOW - timedelta(hours=6))]  # each hour of a batch once
    assert _stale(database_url) == expected

    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM tds.stale_windows")  # as the sensor does once it reported them
    store.write(_batch("acme", *late))  # a redelivery: nothing new landed, nothing to refresh
    assert _stale(database_url) == []
    store.write(_batch("acme", HOUR_NOW - timedelta(hours=5, minutes=30)))  # a new late reading: asked again
    assert _stale(database_url) == [("acme", HOUR_NOW - timedelta(hours=6))]
