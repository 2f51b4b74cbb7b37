"""The worker's pipeline + TelemetryStore against a real TimescaleDB database, without MQTT or a pipe.

Shows what the database decides: a reading it rejects is dead-lettered alone, a permission error
is retried and never dead-lettered, a redelivery is a duplicate, and the lease fence keeps an old
leader out.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from ingest_stream.coordination.lease import Lease, LeaseLostError
from ingest_stream.handoff import CommitSummary, Received
from ingest_stream.parsing import MessageParser, parse_templates
from ingest_stream.receiver.commits import CommitRecorder
from ingest_stream.receiver.delivery import AckLedger, Delivery
from ingest_stream.receiver.health import HealthState
from ingest_stream.receiver.metrics import IngestMetrics
from ingest_stream.records import DeadLetterReason, Parsed, Quality, Reading
from ingest_stream.store import Batch, Fence, StoreUnavailableError, TelemetryStore, WriteResult
from ingest_stream.worker.pipeline import Pipeline
from tests.ingest_stream.conftest import v1, wait_until
from tests.servers import admin_url, as_login, with_password

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
_roles = itertools.count(1)


class RecordingTransport:
    """Records the acks the ledger sends instead of a paho client (our own protocol, not a library)."""

    def __init__(self) -> None:
        self.acks: list[int] = []

    def ack_all(self, mids: list[int], _qos: int) -> None:
        self.acks.extend(mids)


def _reading(metric: str, seconds: int, quality: int = Quality.GOOD, equipment: str = "ch-1") -> Reading:
    return Reading("t1", "plant-1", equipment, metric, T0 + timedelta(seconds=seconds), float(seconds), None, None,
                   quality)  # type: ignore[arg-type]  # a bad quality on purpose: only the database refuses it


class ReceiverSide:
    """The receiver's end of the handoff in one process: numbers deliveries as the link does, and applies
    each commit the pipeline reports to the receiver's own recorder (acks, metrics, health)."""

    def __init__(self, recorder: CommitRecorder) -> None:
        self.recorder = recorder
        self.inflight: dict[int, Delivery] = {}
        self._seqs = itertools.count(1)

    def received(self, delivery: Delivery) -> Received:
        seq = next(self._seqs)
        self.inflight[seq] = delivery
        return Received(seq, delivery.topic, delivery.payload, delivery.received_at)

    def committed(self, messages: Sequence[Received], summary: CommitSummary) -> None:
        self.recorder.committed([self.inflight.pop(message.seq) for message in messages], summary)

    def database_failed(self, error: str) -> None:
        self.recorder.database_failed(error)


class Harness:
    """A pipeline over one store, fed deliveries by hand; `parsed` says what each topic parses to."""

    def __init__(self, store: TelemetryStore, parsed: dict[str, Parsed] | None = None,
                 parse: Callable[[str, bytes, datetime], Parsed] | None = None) -> None:
        self.store = store
        self.metrics = IngestMetrics()
        self.health = HealthState(instance_id="test", mode="none")
        self.transport = RecordingTransport()
        self.ledger = AckLedger("own")
        self.ledger.connected(self.transport)
        self.receiver = ReceiverSide(CommitRecorder(self.metrics, self.health))
        table = parsed or {}
        self.pipeline = Pipeline(parse or (lambda topic, _payload, _at: table[topic]), [store], self.receiver,
                                 batch_size=1000, batch_max_age_s=0.05, retry_max_s=0.2)
        self._mids = itertools.count(1)

    def deliver(self, topic: str, payload: bytes) -> Delivery:
        delivery = self.ledger.received(next(self._mids), 1, topic, payload, time.time())
        self.pipeline.submit(self.receiver.received(delivery))
        return delivery

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def flush(self, give_up: Callable[[], bool] = lambda: True) -> bool:
        """Write everything delivered so far as one batch, on this thread."""
        self.pipeline.drain_inbox()
        batch, self.pipeline.batch = self.pipeline.batch, Batch()
        return self.pipeline.writers[0].write(batch, give_up)


@pytest.fixture
def writer_url(database_url: str) -> str:
    return as_login(database_url, "tds_ingest")


@pytest.fixture
def store(writer_url: str) -> Iterator[TelemetryStore]:
    landing = TelemetryStore(writer_url, "test")
    yield landing
    landing.close()


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(query).fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize("bad", [
    pytest.param(_reading("temp", 99, quality=5), id="quality-violates-check-constraint"),
    pytest.param(_reading("te\x00mp", 99), id="metric-with-nul-byte"),
])
def test_a_reading_the_database_rejects_dead_letters_only_its_message(
        store: TelemetryStore, database_url: str, bad: Reading) -> None:
    good = {f"tds/t1/plant-1/ch-1/telem#{i}": Parsed(readings=(_reading("temp", i), _reading("flow", i)))
            for i in range(4)}
    poison_topic, poison_payload = "tds/t1/plant-1/ch-1/telem#poison", b'{"exact": "bytes \xff"}'
    harness = Harness(store, {**good, poison_topic: Parsed(readings=(_reading("temp", 50), bad))})
    for topic in list(good)[:2]:
        harness.deliver(topic, b"{}")
    poison = harness.deliver(poison_topic, poison_payload)
    for topic in list(good)[2:]:
        harness.deliver(topic, b"{}")

    assert harness.flush() is True
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 8, "everything else landed"
    rows = psycopg.connect(database_url).execute("SELECT topic, payload, reason, detail, instance FROM tds.dlq")
    [(topic, payload, reason, detail, instance)] = rows.fetchall()
    assert (topic, bytes(payload), reason, instance) == (poison_topic, poison_payload, "database_rejected", "test")
    assert detail.startswith("the database refused it")
    assert sorted(harness.transport.acks) == [1, 2, 3, 4, 5], "the dead-lettered message is acknowledged too"
    assert poison.settled
    assert harness.sample("tds_ingest_dead_letters_total", reason=DeadLetterReason.DATABASE_REJECTED.value) == 1
    assert harness.health.database_ok


def test_a_message_that_runs_the_database_out_of_shared_memory_is_dead_lettered_and_its_batch_lands(
        store: TelemetryStore, database_url: str) -> None:
    """The issue's poison message, past the parser's limits: readings on 7,502 days since 2000, one
    TimescaleDB chunk each, exhaust PostgreSQL's lock table ("out of shared memory", an OperationalError
    like a lost connection). Its batch was retried forever and nothing landed; now the message is found
    and dead-lettered and the innocent messages of the same batch land."""
    noon = datetime(2000, 1, 1, 12, tzinfo=UTC)
    poison = Parsed(readings=tuple(Reading("t1", "plant-1", "ch-9", "temp", noon + timedelta(days=day), 1.0, None,
                                           None, Quality.GOOD) for day in range(7502)))
    good = {f"tds/t1/plant-1/ch-1/telem#{i}": Parsed(readings=(_reading("temp", i),)) for i in range(40)}
    harness = Harness(store, {**good, "tds/t1/plant-1/ch-9/telem": poison})
    for topic in list(good)[:20]:
        harness.deliver(topic, b"{}")
    harness.deliver("tds/t1/plant-1/ch-9/telem", b'{"the": "poison"}')
    for topic in list(good)[20:]:
        harness.deliver(topic, b"{}")

    assert harness.flush() is True, "the batch was retried as if the database were down"
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 40
    rows = psycopg.connect(database_url).execute("SELECT topic, payload, reason, detail FROM tds.dlq").fetchall()
    [(topic, payload, reason, detail)] = rows
    assert (topic, bytes(payload), reason) == ("tds/t1/plant-1/ch-9/telem", b'{"the": "poison"}', "database_limit")
    assert "out of shared memory" in detail
    assert sorted(harness.transport.acks) == list(range(1, 42))
    assert harness.sample("tds_ingest_dead_letters_total", reason="database_limit") == 1
    assert harness.sample("tds_ingest_database_retries_total") == 0, "never taken for the database being down"
    assert harness.health.database_ok


def test_a_permission_error_is_retried_and_never_dead_lettered(database_url: str) -> None:
    login = f"ingest_noperm_{next(_roles)}_{time.time_ns() % 10**6}"
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'no-grants-yet'").format(sql.Identifier(login)))
    landing = TelemetryStore(with_password(database_url, login, "no-grants-yet"), "test")
    harness = Harness(landing, {"tds/t1/plant-1/ch-1/telem": Parsed(readings=(_reading("temp", 1),))})
    harness.deliver("tds/t1/plant-1/ch-1/telem", b"{}")
    stop = threading.Event()
    outcome: list[bool] = []
    worker = threading.Thread(target=lambda: outcome.append(harness.flush(stop.is_set)))
    worker.start()
    try:
        wait_until(lambda: harness.sample("tds_ingest_database_retries_total") >= 3, 20, "the write was retried")
        assert not harness.health.database_ok
        assert "permission denied" in (harness.health.database_error or "")
        assert harness.transport.acks == [], "nothing is acknowledged before it is committed"
        assert _count(database_url, "SELECT count(*) FROM tds.dlq") == 0, "a permission problem is not the message's"
        with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
            admin.execute(sql.SQL("GRANT tds_writer TO {}").format(sql.Identifier(login)))
        worker.join(timeout=20)
        assert outcome == [True], "the retried write succeeds once the operator fixes the grant"
    finally:
        stop.set()
        worker.join(timeout=5)
        landing.close()
        with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 1
    assert _count(database_url, "SELECT count(*) FROM tds.dlq") == 0
    assert harness.transport.acks == [1]
    assert harness.health.database_ok


def test_real_parser_output_lands_and_a_redelivery_is_a_duplicate(store: TelemetryStore, database_url: str) -> None:
    parser = MessageParser(parse_templates("tds/{tenant}/{site}/{equipment}/{kind}"))
    harness = Harness(store, parse=parser.parse)
    unknown_topic, unknown_payload = "other/t1/plant-1/ch-1/telem", b'{"schema":"v1"}'
    payload = v1({"temp": 1.5, "flow": 2.0}, T0)
    harness.deliver("tds/t1/plant-1/ch-1/telem", payload)
    # Not reachable over MQTT (the writer subscribes only to its templates' filters), but a
    # topic that matches no template must still keep its exact bytes.
    harness.deliver(unknown_topic, unknown_payload)
    assert harness.flush() is True
    harness.deliver("tds/t1/plant-1/ch-1/telem", payload)
    assert harness.flush() is True
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 2
    assert harness.sample("tds_ingest_points_total") == 2
    assert harness.sample("tds_ingest_duplicates_total") == 2
    rows = psycopg.connect(database_url).execute("SELECT topic, payload, reason FROM tds.dlq").fetchall()
    assert [(t, bytes(p), r) for t, p, r in rows] == [(unknown_topic, unknown_payload, "unknown_topic")]
    assert harness.transport.acks == [1, 2, 3]


def test_an_old_leader_that_lost_the_lease_writes_nothing(writer_url: str, database_url: str) -> None:
    old, new = Lease(writer_url, "ingest:fence", "old", ttl_s=1), Lease(writer_url, "ingest:fence", "new", ttl_s=30)
    landing = TelemetryStore(writer_url, "old", fence=old.fence)
    try:
        assert old.acquire()
        assert not new.acquire(), "one leader at a time"
        harness = Harness(landing, {"a": Parsed(readings=(_reading("temp", 1),)),
                                    "b": Parsed(readings=(_reading("temp", 2),))})
        harness.deliver("a", b"{}")
        assert harness.flush() is True
        time.sleep(1.2)  # the old leader is paused past its TTL ...
        assert new.acquire(), "... so a standby takes the lease"
        harness.deliver("b", b"{}")
        with pytest.raises(LeaseLostError):
            harness.flush()
        assert not old.renew()
    finally:
        landing.close()
        old.close()
        new.close()
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 1
    assert harness.transport.acks == [1]


def test_a_leader_frozen_inside_its_commit_cannot_block_the_takeover(writer_url: str, database_url: str) -> None:
    """The fence holds a row lock until COMMIT; a leader frozen right there (SIGSTOP, VM pause) must
    not keep the standby waiting forever, and its batch must not land after the takeover."""
    ttl_s = 1.0
    old, new = Lease(writer_url, "ingest:frozen", "old", ttl_s=ttl_s), Lease(writer_url, "ingest:frozen", "new", ttl_s)
    frozen, thawed = threading.Event(), threading.Event()

    def fence_then_freeze(conn: psycopg.Connection) -> None:
        old.fence(conn)
        frozen.set()
        thawed.wait(30)

    fence: Fence = fence_then_freeze
    landing = TelemetryStore(writer_url, "old", fence=fence, idle_in_transaction_timeout_s=ttl_s)
    harness = Harness(landing, {"a": Parsed(readings=(_reading("temp", 1),))})
    errors: list[BaseException] = []

    def write() -> None:
        try:
            harness.flush()
        except (StoreUnavailableError, LeaseLostError) as exc:
            errors.append(exc)

    acquired: list[bool] = []
    try:
        assert old.acquire()
        harness.deliver("a", b"{}")
        writer = threading.Thread(target=write)
        writer.start()
        assert frozen.wait(10)
        time.sleep(ttl_s + 0.2)
        taker = threading.Thread(target=lambda: acquired.append(new.acquire()))
        started = time.monotonic()
        taker.start()
        taker.join(timeout=ttl_s + 5)
        took_s = time.monotonic() - started
        assert acquired == [True], "the standby must not wait on a frozen leader's transaction"
        assert took_s < ttl_s + 3
    finally:
        thawed.set()
        writer.join(timeout=10)
        landing.close()
        old.close()
        new.close()
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 0, "the frozen batch never lands"
    assert harness.transport.acks == []


def _landed_rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT s.metric, r.ts, r.value, r.value_text, r.quality FROM tds.telemetry_raw r "
                            "JOIN tds.metric_spec s USING (series_id) ORDER BY s.metric, r.ts").fetchall()


def test_every_kind_of_value_lands_exactly_as_parsed(store: TelemetryStore, database_url: str) -> None:
    """The writer encodes COPY rows itself: PostgreSQL must read back exactly what the parser produced."""
    def reading(metric: str, ts: datetime, value: float | None, text: str | None, quality: Quality) -> Reading:
        return Reading("t1", "plant-1", "ch-1", metric, ts, value, text, None, quality)

    shared_ts = T0 + timedelta(microseconds=123_457)
    before_2000 = T0 - timedelta(days=20_000, microseconds=1)  # PostgreSQL counts time from 2000
    readings = (
        reading("a_float", shared_ts, -1234.5678e-9, None, Quality.GOOD),
        reading("b_big", shared_ts, 1.7976931348623157e308, None, Quality.UNCERTAIN),
        reading("c_integer", shared_ts, 42, None, Quality.BAD),  # type: ignore[arg-type]  # ints land as double
        reading("d_text", before_2000, None, "Überdruck ✓ \"quoted\"\ttab", Quality.GOOD),
        reading("e_empty_text", T0, None, "", Quality.BAD),
        reading("f_both", T0, 3.25, "3.25 bar", Quality.UNCERTAIN),
        reading("g_nothing", T0, None, None, Quality.GOOD),
    )
    harness = Harness(store, {"tds/t1/plant-1/ch-1/telem": Parsed(readings=readings)})
    harness.deliver("tds/t1/plant-1/ch-1/telem", b"{}")
    assert harness.flush() is True
    assert _landed_rows(database_url) == [(r.metric, r.ts, r.value, r.value_text, int(r.quality)) for r in readings]


def test_batches_with_duplicates_land_only_what_is_new_and_new_batches_land_whole(
        store: TelemetryStore, database_url: str) -> None:
    """Batches go in by plain COPY while nothing is there yet; a duplicate sends them through staging."""
    batches = [
        [_reading("temp", s) for s in range(10)],  # all new
        [_reading("temp", s) for s in range(5, 15)],  # half already there
        [_reading("temp", s) for s in (15, 15, 16)],  # a duplicate inside the batch itself
        [_reading("temp", s) for s in range(17, 20)],  # all new again
        [_reading("temp", s) for s in range(20)],  # every one a redelivery
    ]
    harness = Harness(store, {f"tds/t1/plant-1/ch-1/telem#{n}": Parsed(readings=tuple(batch))
                              for n, batch in enumerate(batches)})
    landed = []
    for n in range(len(batches)):
        harness.deliver(f"tds/t1/plant-1/ch-1/telem#{n}", b"{}")
        assert harness.flush() is True
        landed.append((harness.sample("tds_ingest_points_total"), harness.sample("tds_ingest_duplicates_total")))
    assert landed == [(10, 0), (15, 5), (17, 6), (20, 6), (20, 26)]
    assert [ts for _, ts, *_ in _landed_rows(database_url)] == [T0 + timedelta(seconds=s) for s in range(20)]


def test_new_series_are_registered_on_their_own_even_when_their_batch_is_refused(
        writer_url: str, database_url: str) -> None:
    """The registry commits before the batch transaction: the ids it caches always exist."""
    def refuse(_conn: psycopg.Connection) -> None:
        raise RuntimeError("fenced out")

    landing = TelemetryStore(writer_url, "refused", fence=refuse)
    batch = Batch([Received(1, "tds/t1/plant-1/ch-1/telem", b"{}", time.time())],
                  [Parsed(readings=(_reading("temp", 1), _reading("flow", 1)))])
    try:
        with pytest.raises(RuntimeError, match="fenced out"):
            landing.write(batch)
    finally:
        landing.close()
    assert _count(database_url, "SELECT count(*) FROM tds.metric_spec") == 2
    assert _count(database_url, "SELECT count(*) FROM tds.telemetry_raw") == 0


def _series_id(url: str, metric: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT series_id FROM tds.metric_spec WHERE metric = %s", (metric,)).fetchone()[0])  # type: ignore[index]


def _waiting_on_a_lock(url: str, application_name: str) -> bool:
    """Inspects every session, which only the superuser (or pg_read_all_stats) may."""
    with psycopg.connect(admin_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                           "AND wait_event_type = 'Lock'", (application_name,)).fetchone()
    return bool(row and row[0])


def test_a_batch_waiting_on_the_database_does_not_hold_up_the_next_one(writer_url: str, database_url: str) -> None:
    """Two write connections: while one batch waits (here on a row another session has not
    committed), the next batch commits; its acknowledgement waits for the earlier message's, since
    acks go out in receive order (MQTT-4.6.0-2), and both go once the first lands."""
    stores = [TelemetryStore(writer_url, "overlap") for _ in range(2)]
    parsed = {"slow": Parsed(readings=(_reading("temp", 1),)), "fast": Parsed(readings=(_reading("temp", 2),))}
    harness = Harness(stores[0], parsed)
    harness.pipeline = Pipeline(lambda topic, _payload, _at: parsed[topic], stores, harness.receiver, batch_size=1,
                                batch_max_age_s=0.05)
    harness.deliver("slow", b"{}")  # registers the series, so the blocker below can use its id
    stop = threading.Event()
    runner = threading.Thread(target=harness.pipeline.run, args=(stop,))
    blocker = psycopg.connect(database_url)
    try:
        runner.start()
        wait_until(lambda: harness.transport.acks == [1], 10, "the first reading landed")
        blocker.execute("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, 0)",
                        (_series_id(database_url, "temp"), T0 + timedelta(seconds=3)))
        parsed["slow"] = Parsed(readings=(_reading("temp", 3),))
        harness.deliver("slow", b"{}")
        wait_until(lambda: _waiting_on_a_lock(database_url, "tds-ingest:overlap"), 10,
                   "the second batch waits for the uncommitted row")
        harness.deliver("fast", b"{}")
        wait_until(lambda: T0 + timedelta(seconds=2) in [ts for _, ts, *_ in _landed_rows(database_url)], 10,
                   "the third batch committed past the waiting one")
        assert harness.transport.acks == [1], "an ack overtook an earlier message's"
        blocker.rollback()
        wait_until(lambda: harness.transport.acks == [1, 2, 3], 10, "the waiting batch landed, then both acks went")
    finally:
        blocker.close()
        stop.set()
        runner.join(timeout=10)
        for store in stores:
            store.close()
    assert [ts for _, ts, *_ in _landed_rows(database_url)] == [T0 + timedelta(seconds=s) for s in (1, 2, 3)]
    assert harness.health.database_ok


def test_a_batch_deadlocked_by_a_concurrent_write_of_the_same_readings_is_retried_not_failed(
        store: TelemetryStore, database_url: str) -> None:
    """Readings in two uncommitted transactions in opposite orders deadlock; PostgreSQL aborts one.
    The aborted batch is written again at once (its rows are duplicates by then), never reported as
    the database being down."""
    harness = Harness(store, {"warm-up": Parsed(readings=(_reading("temp", 0),))})
    harness.deliver("warm-up", b"{}")
    assert harness.flush() is True
    series_id = _series_id(database_url, "temp")
    batch = Batch([Received(1, "tds/t1/plant-1/ch-1/telem", b"{}", time.time())],
                  [Parsed(readings=(_reading("temp", 2), _reading("temp", 1)))])
    other = psycopg.connect(admin_url(database_url))
    other.execute("SET deadlock_timeout = '60s'")  # so PostgreSQL aborts the writer's transaction, not ours
    insert = "INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, -1)"
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(store.write(batch))
        except StoreUnavailableError as exc:
            outcome.append(exc)

    writer = threading.Thread(target=write)
    try:
        other.execute(insert, (series_id, T0 + timedelta(seconds=1)))
        writer.start()  # lands second 2, then waits for our second 1
        wait_until(lambda: _waiting_on_a_lock(database_url, "tds-ingest:test"), 10, "the writer waits for our row")
        closing = threading.Thread(target=lambda: other.execute(insert, (series_id, T0 + timedelta(seconds=2))))
        closing.start()  # ... and we wait for its second 2: a deadlock
        closing.join(timeout=30)
        other.commit()
        writer.join(timeout=30)
    finally:
        other.close()
    [result] = outcome
    assert isinstance(result, WriteResult), f"the deadlocked batch was not retried: {result}"
    assert (result.inserted, result.duplicates) == (0, 2)
    assert [value for _, _, value, *_ in _landed_rows(database_url)] == [0.0, -1.0, -1.0]
