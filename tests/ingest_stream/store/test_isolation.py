"""Finding the messages the database refuses (store.isolation), the one routine of the writer and the DLQ replay.

Against a real database: what landed and what was refused come back by position in the batch given, which
itself is never changed; the caller decides what a refused message becomes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest_stream.handoff import Received
from ingest_stream.records import DeadLetterReason, Parsed, Quality, Reading
from ingest_stream.store import Batch, TelemetryStore, WriteResult, write_isolating_refusals
from ingest_stream.store.isolation import halves_by_cost
from ingest_stream.store.quotas import RegistryQuota
from ingest_stream.store.registry import SeriesRegistry
from tests.servers import as_login

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _reading(equipment: str, seconds: int = 0, quality: int = Quality.GOOD) -> Reading:
    return Reading("t1", "plant-1", equipment, "temp", T0 + timedelta(seconds=seconds), 1.0, None, None,
                   quality)  # type: ignore[arg-type]  # a bad quality on purpose: only the database refuses it


def _batch(*parsed: Parsed) -> Batch[Received]:
    return Batch([Received(seq, f"tds/t1/plant-1/m{seq}/telem", f"payload {seq}".encode(), time.time())
                  for seq in range(len(parsed))], list(parsed))


class CountingStore(TelemetryStore):
    """The real store, counting the transactions it was asked for."""

    writes = 0

    def write(self, batch: Batch) -> WriteResult:
        self.writes += 1
        return super().write(batch)


@pytest.fixture
def store(database_url: str) -> Iterator[CountingStore]:
    landing = CountingStore(as_login(database_url, "tds_ingest"), "test",
                            registry=SeriesRegistry(RegistryQuota(equipment_per_hour=1, series_per_hour=100)))
    yield landing
    landing.close()


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(query).fetchone()[0])  # type: ignore[index]


def test_refused_messages_come_back_by_position_and_the_batch_is_left_as_it_was(
        store: CountingStore, database_url: str) -> None:
    """The writer's copy rewrote refused messages inside the batch; the replay's went one message at a time."""
    poison = Parsed(readings=(_reading("ch-1", 99, quality=5),))
    parsed = [Parsed(readings=(_reading("ch-1", i),)) for i in range(16)]
    parsed[5] = poison
    parsed[12] = Parsed(readings=(_reading("ch-4"),))  # a second equipment: over the quota of 1
    parsed[13] = poison
    batch = _batch(*parsed)
    before = list(batch.parsed)

    isolated = write_isolating_refusals(store, batch)

    assert set(isolated.refused) == {5, 13}
    assert {refusal.reason for refusal in isolated.refused.values()} == {DeadLetterReason.DATABASE_REJECTED}
    assert all("check constraint" in refusal.error for refusal in isolated.refused.values())
    assert isolated.result.inserted == 13, "every other message landed"
    assert set(isolated.result.dead_lettered) == {12}, "positions are the batch's, whatever part they were in"
    assert isolated.result.dead_lettered[12].reason is DeadLetterReason.REGISTRY_QUOTA
    assert isolated.result.dead_lettered[12].payload == b"payload 12"
    assert batch.parsed == before and all(a is b for a, b in zip(batch.parsed, before, strict=True))
    assert store.writes <= 12, f"halving finds two refusals in 16 messages in a few writes, not {store.writes}"
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 13
    assert _count(database_url, "SELECT count(*) FROM tds.dlq") == 1, "only the quota's dead letter: the store's own"


def test_an_unrefused_batch_is_one_write(store: CountingStore) -> None:
    isolated = write_isolating_refusals(store, _batch(*(Parsed(readings=(_reading("ch-1", i),)) for i in range(5))))
    assert (isolated.result.inserted, isolated.refused, store.writes) == (5, {}, 1)


def test_a_refused_batch_splits_into_halves_of_equal_cost_so_a_costly_message_is_alone_at_once() -> None:
    """Cost is the distinct days a message's readings touch (one TimescaleDB chunk each)."""
    one_day = Parsed(readings=(_reading("a"),))
    many_days = Parsed(readings=tuple(_reading("a", seconds=day * 86_400) for day in range(500)))
    batch = _batch(one_day, one_day, many_days, one_day, one_day, Parsed())
    assert halves_by_cost(batch) == ([2], [0, 1, 3, 4, 5])
    even = _batch(*[one_day] * 4)
    assert sorted(map(len, halves_by_cost(even))) == [2, 2]
