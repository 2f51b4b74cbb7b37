"""What the store writes, without a database: a batch of parsed messages, and one ack per command.

No servers here: each test states one rule the stream writer's guarantees depend on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from ingest_stream.handoff import Received
from ingest_stream.records import CommandAck, DeadLetter, DeadLetterReason, Event, Parsed, Quality, Reading
from ingest_stream.store import Batch
from ingest_stream.store.writer import latest_acks

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _received(seq: int) -> Received:
    return Received(seq, "tds/t/s/e/telem", b"{}", time.time())


def _reading(metric: str, seconds: int = 0) -> Reading:
    return Reading("t", "s", "e", metric, T0 + timedelta(seconds=seconds), 1.0, None, None, Quality.GOOD)


def test_batch_collects_messages_and_flattens_what_they_produced() -> None:
    batch: Batch[Received] = Batch()
    assert len(batch) == 0 and batch.age_s() == 0.0
    event = Event(T0, "t", "s", "e", "alarm", "warning", {"code": 1})
    ack = CommandAck("t", "e", "c-1", "done", None, T0)
    letter = DeadLetter("tds/t/s/e/telem", b"\xff", DeadLetterReason.INVALID_UTF8, "not UTF-8")
    produced = [Parsed(readings=(_reading("a"), _reading("b"))), Parsed(events=(event,)), Parsed(acks=(ack,)),
                Parsed(dead_letter=letter), Parsed()]
    messages = [_received(seq) for seq in range(len(produced))]
    for message, parsed in zip(messages, produced, strict=True):
        batch.add(message, parsed)
    assert len(batch) == 5
    assert [r.metric for r in batch.readings()] == ["a", "b"]
    assert batch.events() == [event]
    assert batch.acks() == [ack]
    assert batch.dead_letters() == [letter]
    part = batch.part([3, 0])
    assert part.sources == [messages[3], messages[0]] and part.parsed == [produced[3], produced[0]]


def test_batch_age_counts_from_its_first_message() -> None:
    batch: Batch[Received] = Batch()
    time.sleep(0.05)  # an empty batch has no age, however long ago it was created
    batch.add(_received(1), Parsed())
    assert batch.age_s() < 0.04
    time.sleep(0.05)
    batch.add(_received(2), Parsed())
    assert batch.age_s() >= 0.05


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
