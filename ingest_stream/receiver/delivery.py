"""One received MQTT message, and the acknowledgement bookkeeping for the session that sent it.

Correctness hangs on this: a message is acknowledged only on the connection that delivered it,
and only after its batch committed. Acks for an older connection are dropped — the broker
redelivers those messages, and the idempotent write absorbs them. Acknowledgements go out in the
order the messages were received (MQTT 5, MQTT-4.6.0-2): with two write connections a later batch
may commit first, and its acks then wait for the earlier batch's commit.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class AckTransport(Protocol):
    def ack_all(self, mids: list[int], qos: int) -> object: ...


class DeliverySink(Protocol):
    """Where a session hands what it receives, and whether it may receive more now.

    The writer bounds what it holds itself: Mosquitto 2.0 does not keep to a client's ReceiveMaximum
    while it resumes a backlog (measured: 3,700 messages outstanding against a maximum of 100)."""

    def submit(self, delivery: Delivery) -> None: ...

    def wait_for_room(self, timeout_s: float) -> bool: ...


@dataclass(slots=True)
class Delivery:
    ledger: AckLedger
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: float  # wall clock (time.time()) at receipt
    committed: bool = False  # its batch committed; acknowledged once every earlier delivery is
    settled: bool = False  # acknowledged already: a packet id is acked at most once


class AckLedger:
    """Counts what one MQTT session delivered and acknowledges exactly what was committed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._transport: AckTransport | None = None
        self._generation = 0
        self._pending = 0
        # The current connection's deliveries not acknowledged yet, in the order they were received.
        self._unacked: deque[Delivery] = deque()

    def connected(self, transport: AckTransport) -> None:
        """A new connection: deliveries stamped before it can no longer be acknowledged."""
        with self._lock:
            self._transport = transport
            self._generation += 1
            self._pending = 0
            self._unacked.clear()

    def disconnected(self) -> None:
        with self._lock:
            self._transport = None
            self._pending = 0
            self._unacked.clear()

    def received(self, mid: int, qos: int, topic: str, payload: bytes, received_at: float) -> Delivery:
        with self._lock:
            self._pending += 1
            delivery = Delivery(self, self._generation, mid, qos, topic, payload, received_at)
            self._unacked.append(delivery)
            return delivery

    def settle_all(self, deliveries: Iterable[Delivery]) -> int:
        """Acknowledge committed deliveries, all in one go, in receive order: those received after one
        whose batch has not committed yet wait for it. Skipped are those of an older connection (they
        will come again) and those settled before (a second PUBACK for an id could acknowledge a later
        message). Returns how many were acknowledged now (of these deliveries or earlier ones)."""
        with self._lock:
            transport, generation = self._transport, self._generation
            if transport is None:
                return 0
            for delivery in deliveries:
                if delivery.generation == generation:
                    delivery.committed = True
            by_qos: dict[int, list[int]] = {1: [], 2: []}
            unacked, settled = self._unacked, 0
            while unacked and unacked[0].committed:
                delivery = unacked.popleft()
                delivery.settled = True
                settled += 1
                if delivery.qos:
                    by_qos[delivery.qos].append(delivery.mid)
            self._pending -= settled
            # QoS 1 and 2 acks are separate packets; within each kind the receive order holds, and a
            # session uses one QoS (TDS_MQTT_QOS) in practice.
            for qos, mids in by_qos.items():
                if mids:
                    transport.ack_all(mids, qos)
        return settled

    @property
    def pending(self) -> int:
        """Delivered on the current connection and not yet acknowledged."""
        with self._lock:
            return self._pending
