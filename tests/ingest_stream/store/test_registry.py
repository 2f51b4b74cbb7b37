"""The series registry against a real database: no series_id burnt on what exists, a site change recorded
(not re-registered per batch), and per-tenant hourly quotas on new equipment and series."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest_stream.handoff import Received
from ingest_stream.records import Parsed, Quality, Reading
from ingest_stream.store import Batch, TelemetryStore
from ingest_stream.store.quotas import Registration, RegistryQuota, refusals
from ingest_stream.store.registry import SeriesRegistry
from tests.servers import admin_url, as_login

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
_seqs = itertools.count(1)


def _message(equipment: str, metrics: list[str], site: str = "plant-1", second: int = 0) -> Parsed:
    return Parsed(readings=tuple(Reading("t1", site, equipment, metric, T0 + timedelta(seconds=second), 1.0, None,
                                         None, Quality.GOOD) for metric in metrics))


def _batch(*messages: Parsed) -> Batch[Received]:
    batch: Batch[Received] = Batch()
    for parsed in messages:
        equipment = parsed.readings[0].equipment
        batch.add(Received(next(_seqs), f"tds/t1/plant-1/{equipment}/telem", f"payload of {equipment}".encode(),
                           time.time()), parsed)
    return batch


def _query(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def writer_url(database_url: str) -> str:
    return as_login(database_url, "tds_ingest")


@pytest.fixture
def stores(writer_url: str) -> Iterator[list[TelemetryStore]]:
    """Stores made by `open_store` (each its own writer: its own connection and cache), closed at the end."""
    opened: list[TelemetryStore] = []
    yield opened
    for store in opened:
        store.close()


def _open(stores: list[TelemetryStore], url: str, registry: SeriesRegistry | None = None) -> TelemetryStore:
    store = TelemetryStore(url, "test", registry=registry)
    stores.append(store)
    return store


def test_an_equipment_that_alternates_sites_burns_no_series_id_and_its_move_is_recorded(
        writer_url: str, database_url: str, stores: list[TelemetryStore]) -> None:
    """Each batch from the other site re-registered every series of the equipment: 20 batches of 50 metrics
    left 50 rows and the series_id sequence at 1,000 (the id space is an int)."""
    store = _open(stores, writer_url)
    metrics = [f"m{i:02d}" for i in range(50)]
    for n in range(20):
        store.write(_batch(_message("ch-1", metrics, site="plant-a" if n % 2 == 0 else "plant-b", second=n)))

    assert _query(database_url, "SELECT count(*), max(series_id) FROM tds.metric_spec") == [(50, 50)]
    assert _query(admin_url(database_url), "SELECT last_value FROM tds.metric_spec_series_id_seq") == [(50,)]
    assert _query(database_url, "SELECT count(*) FROM tds.telemetry_raw") == [(1000,)]
    # The first move is recorded at once; the flapping after it at most once a minute.
    assert _query(database_url, "SELECT site FROM tds.equipment") == [("plant-b",)]

    # Another writer (an empty cache) that meets the equipment at a third site records that move too,
    # and burns nothing learning the 50 series.
    _open(stores, writer_url).write(_batch(_message("ch-1", metrics, site="plant-c", second=99)))
    assert _query(database_url, "SELECT site FROM tds.equipment") == [("plant-c",)]
    assert _query(admin_url(database_url), "SELECT last_value FROM tds.metric_spec_series_id_seq") == [(50,)]


def test_new_equipment_and_series_beyond_a_tenants_hourly_quota_are_dead_lettered(
        writer_url: str, database_url: str, stores: list[TelemetryStore]) -> None:
    quota = RegistryQuota(equipment_per_hour=2, series_per_hour=5)
    store = _open(stores, writer_url, SeriesRegistry(quota))
    batch = _batch(
        _message("ch-1", ["a", "b", "c"]),  # 1 equipment, 3 series: fits
        _message("ch-2", ["a", "b", "c"]),  # 3 more series would make 6: refused whole
        _message("ch-1", ["a"], second=1),  # known by now: lands
        _message("ch-3", ["a", "b"]),  # a second equipment, series 5: fits
        _message("ch-4", ["a"]),  # a third equipment: refused
    )
    result = store.write(batch)

    assert (result.inserted, result.dead_letters) == (6, 2)
    assert _query(database_url, "SELECT equipment, metric FROM tds.metric_spec ORDER BY 1, 2") == [
        ("ch-1", "a"), ("ch-1", "b"), ("ch-1", "c"), ("ch-3", "a"), ("ch-3", "b")]
    letters = _query(database_url, "SELECT topic, payload, reason, detail FROM tds.dlq ORDER BY id")
    assert [(topic, bytes(payload), reason) for topic, payload, reason, _ in letters] == [
        ("tds/t1/plant-1/ch-2/telem", b"payload of ch-2", "registry_quota"),
        ("tds/t1/plant-1/ch-4/telem", b"payload of ch-4", "registry_quota")]
    assert "quota of 5 new series in the last hour" in letters[0][3]
    assert "quota of 2 new equipment in the last hour" in letters[1][3]
    assert {position: letter.reason.value for position, letter in result.dead_lettered.items()} == {
        1: "registry_quota", 4: "registry_quota"}, "the result says which messages it dead-lettered"
    assert all(parsed.dead_letter is None for parsed in batch.parsed), "the batch itself is left as it was"

    # The quota counts what the database registered in the last hour, whichever writer did it.
    other = _open(stores, writer_url, SeriesRegistry(quota))
    assert other.write(_batch(_message("ch-1", ["d"]))).dead_letters == 1
    assert other.write(_batch(_message("ch-1", ["a"], second=2))).inserted == 1


def test_quota_refusals_take_messages_whole_and_in_order() -> None:
    quota = RegistryQuota(equipment_per_hour=1, series_per_hour=3)
    wanted = [Registration(0, "t1", {("t1", "e1")}, {("t1", "e1", "a"), ("t1", "e1", "b")}),
              Registration(1, "t1", set(), {("t1", "e1", "b"), ("t1", "e1", "c")}),  # b is admitted already
              Registration(2, "t1", set(), {("t1", "e1", "d")}),
              Registration(3, "t2", {("t2", "e1")}, {("t2", "e1", "a")})]  # another tenant has its own budget
    assert refusals(quota, wanted, {}).keys() == {2}
    assert refusals(quota, wanted, {"t1": (0, 2)}).keys() == {0, 1}  # one series left: only "d" fits
    assert refusals(quota, wanted, {"t2": (1, 0)}).keys() == {2, 3}
