"""The writer's small correctness-critical objects, without a network: ack ledger, batch, settings, acks.

No servers here: each test states one rule the stream writer's guarantees depend on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ingest_stream.batch import Batch
from ingest_stream.batch_writer import halves_by_cost
from ingest_stream.coordination.client_ids import writer_client_id
from ingest_stream.delivery import AckLedger, Delivery
from ingest_stream.records import CommandAck, DeadLetter, DeadLetterReason, Event, Parsed, Quality, Reading
from ingest_stream.settings import Coordination, IngestSettings, ParsingSettings, redact_url
from ingest_stream.store.writer import latest_acks

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class RecordingTransport:
    """Stands in for the paho client: records the acks the ledger sends (our own protocol, not a library)."""

    def __init__(self) -> None:
        self.acks: list[tuple[int, int]] = []

    def ack_all(self, mids: list[int], qos: int) -> None:
        self.acks.extend((mid, qos) for mid in mids)


def _receive(ledger: AckLedger, mid: int, qos: int = 1) -> Delivery:
    return ledger.received(mid, qos, "tds/t/s/e/telem", b"{}", time.time())


# --- AckLedger ---------------------------------------------------------------------------------

def test_ledger_acks_a_committed_delivery_of_the_current_connection_once() -> None:
    ledger, transport = AckLedger("own"), RecordingTransport()
    ledger.connected(transport)
    first, second = _receive(ledger, 7), _receive(ledger, 8)
    assert ledger.pending == 2
    assert ledger.settle_all([first]) == 1
    assert transport.acks == [(7, 1)]
    assert ledger.pending == 1
    assert ledger.settle_all([first]) == 0, "a delivery settled twice must not be acknowledged twice"
    assert transport.acks == [(7, 1)]
    assert ledger.pending == 1
    assert ledger.settle_all([second]) == 1
    assert transport.acks == [(7, 1), (8, 1)]
    assert ledger.pending == 0


def test_ledger_never_acks_a_delivery_from_an_earlier_connection() -> None:
    ledger, old, new = AckLedger("own"), RecordingTransport(), RecordingTransport()
    ledger.connected(old)
    stale = _receive(ledger, 5)
    ledger.disconnected()
    assert ledger.settle_all([stale]) == 0
    ledger.connected(new)
    redelivered = _receive(ledger, 5)  # the broker resends it, possibly with the same packet id
    assert ledger.settle_all([stale]) == 0, "a packet id of the old connection means another message now"
    assert old.acks == [] and new.acks == []
    assert ledger.pending == 1
    assert ledger.settle_all([redelivered]) == 1
    assert new.acks == [(5, 1)]
    assert ledger.pending == 0


def test_ledger_settles_nothing_while_disconnected_and_counts_only_the_live_connection() -> None:
    ledger, transport = AckLedger("own"), RecordingTransport()
    ledger.connected(transport)
    pending = [_receive(ledger, mid) for mid in range(1, 4)]
    ledger.disconnected()
    assert ledger.pending == 0
    assert ledger.settle_all(pending) == 0
    assert transport.acks == []


def test_ledger_settles_qos0_without_sending_an_ack() -> None:
    ledger, transport = AckLedger("own"), RecordingTransport()
    ledger.connected(transport)
    delivery = _receive(ledger, 0, qos=0)
    assert ledger.settle_all([delivery]) == 1
    assert transport.acks == []
    assert ledger.pending == 0


def test_ledger_settles_a_commit_in_one_go_skipping_what_it_must_not_ack() -> None:
    ledger, transport = AckLedger("own"), RecordingTransport()
    ledger.connected(transport)
    done = _receive(ledger, 1)
    assert ledger.settle_all([done]) == 1
    fresh = [_receive(ledger, mid) for mid in (2, 3)]
    exactly_once = _receive(ledger, 4, qos=2)
    at_most_once = _receive(ledger, 0, qos=0)
    assert ledger.settle_all([done, *fresh, exactly_once, at_most_once]) == 4, "the one settled before is skipped"
    assert transport.acks == [(1, 1), (2, 1), (3, 1), (4, 2)]
    assert ledger.pending == 0


# --- Batch -------------------------------------------------------------------------------------

def _reading(metric: str, seconds: int = 0) -> Reading:
    return Reading("t", "s", "e", metric, T0 + timedelta(seconds=seconds), 1.0, None, None, Quality.GOOD)


def test_batch_collects_deliveries_and_flattens_what_they_produced() -> None:
    ledger = AckLedger("own")
    batch = Batch()
    assert len(batch) == 0 and batch.age_s() == 0.0
    event = Event(T0, "t", "s", "e", "alarm", "warning", {"code": 1})
    ack = CommandAck("t", "e", "c-1", "done", None, T0)
    letter = DeadLetter("tds/t/s/e/telem", b"\xff", DeadLetterReason.INVALID_UTF8, "not UTF-8")
    produced = [Parsed(readings=(_reading("a"), _reading("b"))), Parsed(events=(event,)), Parsed(acks=(ack,)),
                Parsed(dead_letter=letter), Parsed()]
    deliveries = [_receive(ledger, mid) for mid in range(len(produced))]
    for delivery, parsed in zip(deliveries, produced, strict=True):
        batch.add(delivery, parsed)
    assert len(batch) == 5
    assert [r.metric for r in batch.readings()] == ["a", "b"]
    assert batch.events() == [event]
    assert batch.acks() == [ack]
    assert batch.dead_letters() == [letter]


def test_a_refused_batch_splits_into_halves_of_equal_cost_so_a_costly_message_is_alone_at_once() -> None:
    """Cost is the distinct days a message's readings touch (one TimescaleDB chunk each)."""
    one_day = Parsed(readings=(_reading("a"),))
    many_days = Parsed(readings=tuple(_reading("a", seconds=day * 86_400) for day in range(500)))
    batch = Batch([_receive(AckLedger("own"), mid) for mid in range(6)],
                  [one_day, one_day, many_days, one_day, one_day, Parsed()])
    assert halves_by_cost(batch) == ([2], [0, 1, 3, 4, 5])
    even = Batch([_receive(AckLedger("own"), mid) for mid in range(4)], [one_day] * 4)
    assert sorted(map(len, halves_by_cost(even))) == [2, 2]


def test_batch_age_counts_from_its_first_delivery() -> None:
    ledger = AckLedger("own")
    batch = Batch()
    time.sleep(0.05)  # an empty batch has no age, however long ago it was created
    batch.add(_receive(ledger, 1), Parsed())
    assert batch.age_s() < 0.04
    time.sleep(0.05)
    batch.add(_receive(ledger, 2), Parsed())
    assert batch.age_s() >= 0.05


# --- Settings ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "complaint"), [
    ({"coordination": "shared"}, "needs a group"),
    ({"coordination": "shared", "mqtt_group": "g", "mqtt_protocol": "3.1.1"}, "need MQTT 5"),
    ({"batch_size": 500, "receive_maximum": 100}, "receive maximum"),
    ({"instance_id": "a b"}, "instance_id"),
    ({"instance_id": "x" * 65}, "instance_id"),
    ({"mqtt_group": "g/#"}, "mqtt_group"),
    ({"mqtt_protocol": "4"}, "mqtt_protocol"),
    ({"mqtt_qos": 3}, "mqtt_qos"),
    ({"batch_size": 0}, "batch_size"),
    ({"coordination": "raft"}, "coordination"),
])
def test_settings_refuse_inconsistent_values(fields: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        IngestSettings(instance_id=str(fields.pop("instance_id", "i-1")), **fields)


def test_settings_derive_coordination_and_window() -> None:
    solo = IngestSettings(instance_id="a")
    assert solo.effective_coordination is Coordination.NONE
    assert solo.effective_receive_maximum == 3 * solo.batch_size, "a batch per write connection and one filling"
    assert IngestSettings(instance_id="a", write_connections=1).effective_receive_maximum == 2 * solo.batch_size
    shared = IngestSettings(instance_id="a", mqtt_group="g", batch_size=40_000)
    assert shared.effective_coordination is Coordination.SHARED
    assert shared.effective_receive_maximum == 65_535
    old_broker = IngestSettings(instance_id="a", mqtt_group="g", mqtt_protocol="3.1.1")
    assert old_broker.effective_coordination is Coordination.NONE


def test_client_ids_are_stable_per_instance_and_unguessable_without_the_key() -> None:
    """`tds-ingest-<group>-<instance>` was all it took to take a writer's session."""
    key, other_key = "0f" * 16, "a1" * 16
    solo, shared = IngestSettings(instance_id="a"), IngestSettings(instance_id="a", mqtt_group="g")
    assert writer_client_id(solo, key).startswith("tds-ingest-solo-a-")
    assert writer_client_id(shared, key).startswith("tds-ingest-g-a-")
    assert writer_client_id(shared, key) == writer_client_id(IngestSettings(instance_id="a", mqtt_group="g"), key)
    assert writer_client_id(shared, key) != writer_client_id(shared, other_key), "the key decides, not the names"
    assert writer_client_id(shared, key) != writer_client_id(IngestSettings(instance_id="b", mqtt_group="g"), key)
    assert len(writer_client_id(shared, key).rsplit("-", 1)[1]) == 16
    leaders = [IngestSettings(instance_id=i, mqtt_group="g", coordination="lease") for i in ("a", "b")]
    assert len({writer_client_id(s, key) for s in leaders}) == 1, "lease candidates share the role's session"
    dry = IngestSettings(instance_id="a", mqtt_group="g", dry_run=True)
    assert writer_client_id(dry, key) != writer_client_id(dry, key), "a dry run leaves no session to come back to"


def test_the_oldest_reading_accepted_follows_the_raw_retention_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ParsingSettings().max_reading_age == timedelta(days=30)
    monkeypatch.setenv("TDS_RETENTION_RAW_DAYS", "7")
    assert ParsingSettings().max_reading_age == timedelta(days=7)
    assert ParsingSettings().parser().limits.max_age == timedelta(days=7)
    monkeypatch.setenv("TDS_RETENTION_RAW_DAYS", "keep")
    assert ParsingSettings().max_reading_age is None, "kept forever: only the 2000-01-01 floor and the days bound"
    monkeypatch.setenv("TDS_MAX_READING_AGE_DAYS", "90")
    assert ParsingSettings().max_reading_age == timedelta(days=90)


def test_settings_come_from_tds_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TDS_MQTT_GROUP", "writers")
    monkeypatch.setenv("TDS_BATCH_SIZE", "300")
    monkeypatch.setenv("TDS_INSTANCE_ID", "w-9")
    settings = IngestSettings()
    assert (settings.mqtt_group, settings.batch_size, settings.instance_id) == ("writers", 300, "w-9")
    assert IngestSettings(batch_size=5).batch_size == 5, "an explicit flag beats the environment"


@pytest.mark.parametrize(("url", "shown"), [
    ("mqtt://tds-ingest:s3cret@broker:1883", "mqtt://tds-ingest:***@broker:1883"),
    ("postgresql://writer:p%40ss@db:5432/tds", "postgresql://writer:***@db:5432/tds"),
    ("postgresql://writer:p@ss@db/tds", "postgresql://writer:***@db/tds"),
    ("postgresql://writer@db/tds", "postgresql://writer@db/tds"),
    ("postgresql://writer@db/tds?password=s3cret&sslmode=require", "postgresql://writer@db/tds?password=***&sslmode=require"),
    ("mqtts://broker:8883", "mqtts://broker:8883"),
    ("host=db user=writer password=s3cret dbname=tds", "host=db user=writer password=*** dbname=tds"),
    ("host=db password='s3cret \\' quoted' port=5432", "host=db password=*** port=5432"),
])
def test_redact_url_never_shows_a_password(url: str, shown: str) -> None:
    redacted = redact_url(url)
    assert redacted == shown
    assert "s3cret" not in redacted and "p@ss" not in redacted and "p%40ss" not in redacted


# --- latest_acks -------------------------------------------------------------------------------

def test_latest_acks_keeps_the_newest_status_per_command() -> None:
    accepted = CommandAck("t", "e", "c-1", "accepted", None, T0)
    done = CommandAck("t", "e", "c-1", "done", None, T0 + timedelta(seconds=1))
    late_accepted = CommandAck("t", "e", "c-1", "accepted", None, T0)
    same_time_error = CommandAck("t", "e", "c-1", "error", "x", T0 + timedelta(seconds=1))
    other_equipment = CommandAck("t", "e2", "c-1", "done", None, T0)
    assert latest_acks([accepted, done, late_accepted]) == [done]
    assert latest_acks([done, accepted]) == [done]
    assert latest_acks([done, same_time_error]) == [same_time_error], "on a tie the later message wins"
    assert sorted(latest_acks([accepted, other_equipment]), key=lambda a: a.equipment) == [accepted, other_equipment]
    assert latest_acks([]) == []
