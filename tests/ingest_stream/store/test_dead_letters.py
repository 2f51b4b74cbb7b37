"""Dead letters are idempotent per message: writing a message's dead letter again (a redelivery) adds no row.

Against a real database, as the writer's own login. The broker redelivers a message whose acknowledgement
it did not get (a writer killed after its commit, a drained session, a broker restart): the store sees the
same topic and bytes again and must keep the row it wrote the first time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from ingest_stream.handoff import Received
from ingest_stream.records import DeadLetter, DeadLetterReason, Parsed
from ingest_stream.store import Batch, TelemetryStore
from tests.batches import writer_store


def _batch(*letters: DeadLetter) -> Batch[Received]:
    return Batch([Received(seq, letter.topic, letter.payload, time.time()) for seq, letter in enumerate(letters)],
                 [Parsed(dead_letter=letter) for letter in letters])


@pytest.fixture
def store(database_url: str) -> Iterator[TelemetryStore]:
    with writer_store(database_url) as landing:
        yield landing


def _rows(url: str) -> list[tuple[str, bytes, str]]:
    with psycopg.connect(url) as conn:
        return [(topic, bytes(payload), reason) for topic, payload, reason in
                conn.execute("SELECT topic, payload, reason FROM tds.dlq ORDER BY id").fetchall()]


def test_a_redelivered_bad_message_is_one_dead_letter(store: TelemetryStore, database_url: str) -> None:
    bad = DeadLetter("tds/t1/plant-1/ch-1/telem", b"{not json", DeadLetterReason.INVALID_JSON, "line 1")
    other = DeadLetter("tds/t1/plant-1/ch-2/telem", b"{not json", DeadLetterReason.INVALID_JSON, "line 1")
    assert store.write(_batch(bad)).dead_letters == 1
    store.write(_batch(bad, other))  # the first one redelivered, next to a new one from another equipment
    store.write(_batch(bad))
    assert _rows(database_url) == [(bad.topic, bad.payload, "invalid_json"), (other.topic, other.payload,
                                                                              "invalid_json")]


def test_oversized_payloads_with_the_same_prefix_stay_two_dead_letters(store: TelemetryStore,
                                                                        database_url: str) -> None:
    head = b"x" * 2048
    letters = [DeadLetter("tds/t1/plant-1/ch-1/telem", head, DeadLetterReason.OVERSIZED,
                          f"payload is {size} bytes; the limit is 1024 (kept: its first 2048 bytes; sha256 {digest})")
               for size, digest in ((300000, "a" * 64), (300001, "b" * 64))]
    store.write(_batch(*letters))
    store.write(_batch(*letters))
    assert len(_rows(database_url)) == 2
