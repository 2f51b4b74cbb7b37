"""The ack ledger, without a network: which deliveries a commit lets the receiver acknowledge, and on which connection.

Each test states one rule the stream writer's guarantees depend on.
"""

from __future__ import annotations

import time

from ingest_stream.receiver.delivery import AckLedger, Delivery


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


def test_ledger_acknowledges_in_receive_order_when_a_later_batch_commits_first() -> None:
    """MQTT-4.6.0-2: two write connections may commit the later batch first; its acks wait."""
    ledger, transport = AckLedger("own"), RecordingTransport()
    ledger.connected(transport)
    first_batch = [_receive(ledger, mid) for mid in (1, 2)]
    second_batch = [_receive(ledger, mid) for mid in (3, 4)]
    assert ledger.settle_all(second_batch) == 0
    assert transport.acks == []
    assert ledger.pending == 4
    assert ledger.settle_all(first_batch) == 4
    assert transport.acks == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert ledger.pending == 0


def test_ledger_forgets_the_order_of_an_earlier_connection() -> None:
    """A delivery of a dropped connection never commits on this one: it must not hold the new acks back."""
    ledger, transport = AckLedger("own"), RecordingTransport()
    ledger.connected(RecordingTransport())
    _receive(ledger, 1)
    ledger.connected(transport)
    fresh = _receive(ledger, 2)
    assert ledger.settle_all([fresh]) == 1
    assert transport.acks == [(2, 1)]
