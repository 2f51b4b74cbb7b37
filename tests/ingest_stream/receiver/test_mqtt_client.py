"""The writer's MQTT session against a real Mosquitto: chunked reads, the direct PUBLISH path, and bulk
acknowledgements must deliver every byte in order and acknowledge exactly what the ledger settles."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from ingest_stream.broker import BrokerAddress
from ingest_stream.receiver.delivery import Delivery
from ingest_stream.receiver.metrics import IngestMetrics
from ingest_stream.receiver.mqtt_client import READ_CHUNK, ChunkedSocket, DrainingClient
from ingest_stream.receiver.mqtt_session import MqttSession, SessionOptions
from ingest_stream.settings import DEFAULT_MAX_PAYLOAD_BYTES
from tds_platform.bench.sessions import wipe_session
from tds_platform.stack import LocalStack
from tests.ingest_stream.conftest import Publisher, wait_until

_names = itertools.count(1)


class Inbox:
    """Collects deliveries in arrival order, holding at most `limit` (the writer's own bound)."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self.deliveries: list[Delivery] = []
        self.limit = limit
        self._lock = threading.Lock()

    def submit(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def wait_for_room(self, timeout_s: float) -> bool:
        if len(self) < self.limit:
            return True
        time.sleep(timeout_s)
        return len(self) < self.limit

    def __len__(self) -> int:
        with self._lock:
            return len(self.deliveries)


class Setup:
    def __init__(self, stack: LocalStack) -> None:
        n = next(_names)
        self.tenant = f"mqttclient{n}"
        self.client_id = f"test-draining-{n}"
        self.reader = BrokerAddress.from_url(stack.writer_mqtt_url())
        self.device_url = stack.device_mqtt_url(self.tenant)
        self.sessions: list[MqttSession] = []

    def topic(self, n: int) -> str:
        return f"tds/{self.tenant}/plant-1/eq-{n % 7}/telem"

    def session(self, qos: int = 1, receive_maximum: int = 1_000, limit: int = 1_000_000,
                keepalive_s: int = 30) -> tuple[MqttSession, Inbox]:
        """The writer's own session class, subscribed to this test's tenant; the whole backlog fits its window."""
        inbox = Inbox(limit)
        options = SessionOptions(client_id=self.client_id, subscriptions=(f"tds/{self.tenant}/#",), qos=qos,
                                 receive_maximum=receive_maximum, session_expiry_s=600, keepalive_s=keepalive_s)
        session = MqttSession(self.reader, options, inbox, IngestMetrics())
        self.sessions.append(session)
        session.start()
        wait_until(lambda: session.connected, 10, "the writer session connected")
        return session, inbox

    def publish(self, payloads: list[bytes], qos: int = 1) -> None:
        publisher = Publisher(self.device_url, f"{self.client_id}-device")
        try:
            mids = [publisher.publish(self.topic(n), payload, qos=qos) for n, payload in enumerate(payloads)]
            assert len(publisher.wait_acked(mids)) == len(payloads), "the broker did not take every publish"
        finally:
            publisher.close()


@pytest.fixture
def setup(stack: LocalStack) -> Iterator[Setup]:
    prepared = Setup(stack)
    yield prepared
    for session in prepared.sessions:
        session.stop()
    wipe_session(prepared.reader, prepared.client_id)


def _received(inbox: Inbox, count: int) -> list[Delivery]:
    wait_until(lambda: len(inbox) >= count, 30, f"{count} deliveries")
    return inbox.deliveries[:count]


def _payloads(count: int) -> list[bytes]:
    """Mostly small messages, some the largest the broker passes (TDS_MAX_PAYLOAD_BYTES, as large as one
    socket read: the packet around it spans two), some half a read, and an empty one."""
    sizes = {97: DEFAULT_MAX_PAYLOAD_BYTES, 98: READ_CHUNK // 2, 99: 0}
    return [bytes([n % 251]) * sizes[n % 100] if n % 100 in sizes else b'{"n": %d}' % n for n in range(count)]


def test_a_backlog_arrives_byte_exact_in_order_and_only_unsettled_messages_come_again(setup: Setup) -> None:
    session, _ = setup.session()
    session.stop()  # the session stays on the broker and queues what is published meanwhile
    payloads = _payloads(1_000)
    setup.publish(payloads)

    session, inbox = setup.session()
    deliveries = _received(inbox, len(payloads))
    assert [d.payload for d in deliveries] == payloads
    assert [d.topic for d in deliveries] == [setup.topic(n) for n in range(len(payloads))]
    # Settled in a few bulk acknowledgements, as commits do; the last 10 are left unsettled.
    bounds = (0, 300, 600, 900, 990)
    settled = sum(session.ledger.settle_all(deliveries[a:b]) for a, b in itertools.pairwise(bounds))
    assert settled == 990
    time.sleep(0.5)  # let the acknowledgements reach the broker before the connection ends
    session.stop()

    session, inbox = setup.session()
    again = _received(inbox, 10)
    time.sleep(1.0)
    assert len(inbox) == 10, "a message acknowledged in bulk was delivered again"
    assert [d.payload for d in again] == payloads[990:]


def test_qos2_deliveries_take_paho_s_own_path_and_settle(setup: Setup) -> None:
    session, _ = setup.session(qos=2)
    session.stop()
    payloads = [b'{"n": %d}' % n for n in range(50)]
    setup.publish(payloads, qos=2)

    session, inbox = setup.session(qos=2)
    deliveries = _received(inbox, len(payloads))
    assert sorted(d.payload for d in deliveries) == sorted(payloads)
    assert {d.qos for d in deliveries} == {2}
    assert session.ledger.settle_all(deliveries) == len(payloads)
    time.sleep(0.5)
    session.stop()

    session, inbox = setup.session(qos=2)
    time.sleep(1.5)
    assert len(inbox) == 0, "a settled QoS 2 message was delivered again"


def test_reading_pauses_while_the_writer_holds_all_it_may_whatever_the_broker_sends(setup: Setup) -> None:
    """Mosquitto 2.0 does not keep to ReceiveMaximum on a resumed backlog: the writer's own bound must hold."""
    session, _ = setup.session()
    session.stop()
    payloads = [b'{"n": %d}' % n for n in range(600)]
    setup.publish(payloads)

    session, inbox = setup.session(receive_maximum=1_000, limit=50, keepalive_s=1)
    _received(inbox, 50)
    time.sleep(4.0)  # several keep-alive periods with the broker's bytes left unread
    assert len(inbox) == 50, "the session read on although the writer held all it may"
    assert session.connected and session.last_disconnect is None, "a pause must not look like a dead connection"
    inbox.limit = len(payloads)
    assert [d.payload for d in _received(inbox, len(payloads))] == payloads


class _Kernel:
    """A non-blocking socket with the given reads queued."""

    def __init__(self, *reads: bytes) -> None:
        self.reads = list(reads)

    def recv(self, _bufsize: int) -> bytes:
        if not self.reads:
            raise BlockingIOError
        return self.reads.pop(0)

    def close(self) -> None:
        self.reads = []


class _CountingSocket(ChunkedSocket):
    """The chunked socket, counting paho's reads from it (three per packet it reads itself)."""

    __slots__ = ("reads",)

    def __init__(self, sock: _Kernel) -> None:
        super().__init__(sock)
        self.reads = 0

    def recv(self, bufsize: int) -> bytes:
        self.reads += 1
        return super().recv(bufsize)


def _publish(mid: int, topic: str, payload: bytes) -> bytes:
    """An MQTT 5 QoS 1 PUBLISH packet (no properties), as the broker sends it."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + mid.to_bytes(2, "big") + b"\x00" + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([0x32]) + bytes(encoded) + body


def test_publishes_read_ahead_are_handled_from_the_chunk_without_a_read_each() -> None:
    """Packets already in the chunk go to the writer without paho's three reads per packet; a packet cut
    by the end of a read is finished by paho from the next read, in order."""
    delivered: list[tuple[int, int, str, bytes]] = []
    client = DrainingClient(lambda *d: delivered.append(d), lambda _t: True, mqtt.CallbackAPIVersion.VERSION2,
                            client_id="direct-path", protocol=mqtt.MQTTv5, manual_ack=True)
    packets = [_publish(n + 1, f"tds/t/s/eq-{n % 3}/telem", b'{"n": %d}' % n + b"x" * (n * 7)) for n in range(300)]
    stream = b"".join(packets)
    cut = len(stream) - len(packets[-1]) // 2
    sock = _CountingSocket(_Kernel(stream[:cut], stream[cut:]))
    client._sock = sock
    while client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and len(delivered) < len(packets):
        pass
    assert delivered == [(n + 1, 1, f"tds/t/s/eq-{n % 3}/telem", b'{"n": %d}' % n + b"x" * (n * 7))
                         for n in range(300)]
    assert sock.reads <= 10, f"{sock.reads} reads for {len(packets)} packets"
    assert all(type(d[3]) is bytes for d in delivered)
