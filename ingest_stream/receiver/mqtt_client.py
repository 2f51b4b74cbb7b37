"""paho-mqtt's client, tuned for a subscriber that drains a backlog: one process core is the writer's
whole receive budget, and stock paho spends most of it on system calls.

Measured on a 1,000,000-message backlog, stock paho 2.2 as a subscriber: one `select` and three
`recv` calls per message (command byte, length byte, body: `loop_read` handles one packet per wake-up
when nothing of ours is in flight), and one wake-up byte plus one `send` per acknowledgement. Here the
socket is read in large chunks and every packet in them is handled per wake-up, and a commit's
acknowledgements go out as one write. Nothing about what is acknowledged, or when, changes: that stays
the ledger's decision (delivery.py).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

# Large enough that a backlog is read with few system calls, small against the writer's memory.
READ_CHUNK = 256 * 1024
# Packets handled per wake-up before queued acknowledgements and keep-alive get their turn.
READ_BURST = 2_000
# While the writer holds all it may, reading pauses in steps this long (TCP then holds the broker back).
PAUSE_S = 0.05
# PUBACK with remaining length 2 (MQTT 3.1.1, and MQTT 5 "success, no properties"): exactly what
# paho's own ack() queues for one message.
_PUBACK = struct.Struct("!BBH")


class ChunkedSocket:
    """The broker's socket, read `READ_CHUNK` bytes at a time and handed out as paho asks for it.

    paho waits in `select` only when `pending()` is 0, so bytes already read here are never left
    waiting for the kernel to report the socket readable again."""

    __slots__ = ("_chunk", "_offset", "_sock")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._chunk = b""
        self._offset = 0

    def recv(self, bufsize: int) -> bytes:
        if self._offset >= len(self._chunk):
            data: bytes = self._sock.recv(READ_CHUNK)  # raises BlockingIOError (or SSLWantRead) when empty
            if len(data) <= bufsize:
                return data  # b"" is the end of the connection, as from the socket itself
            self._chunk, self._offset = data, 0
        start = self._offset
        self._offset = min(start + bufsize, len(self._chunk))
        return self._chunk[start:self._offset]

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)  # an SSL socket's own decrypted bytes
        return len(self._chunk) - self._offset + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


# (packet id, qos, topic, payload) of one received PUBLISH.
OnDelivery = Callable[[int, int, str, bytes], None]


class DrainingClient(mqtt.Client):
    """paho's client with chunked reads, many packets per wake-up, a direct path for QoS 0/1 PUBLISH,
    acknowledgements in bulk, and the keep-alive fix below. Everything else — connecting, session
    state, subscriptions, QoS 2, errors — is paho's own."""

    def __init__(self, on_delivery: OnDelivery, has_room: Callable[[float], bool], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_delivery = on_delivery
        self.has_room = has_room
        self.on_message = self._deliver_message  # what paho itself hands over (QoS 2)

    def _deliver_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self.on_delivery(message.mid, message.qos, message.topic, message.payload)

    def _create_socket(self) -> Any:
        return ChunkedSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """paho's loop_read handles as many packets as it has QoS 2 or outgoing messages in flight —
        one, for a subscriber. Here: until the socket is empty, `READ_BURST` at most, and nothing while
        `has_room` says the writer holds all it may (acknowledgements still go out meanwhile)."""
        for _ in range(READ_BURST):
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            if not self.has_room(0.0):
                if self.want_write():
                    self.loop_write()
                if not self.has_room(PAUSE_S):
                    # Only called when the socket is readable: the broker's bytes are here, unread on
                    # purpose. That is a live connection, so keep-alive must not time it out during a
                    # long pause (a database outage).
                    with self._msgtime_mutex:
                        self._last_bytes_received = time.monotonic()
                    break
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        """A QoS 0/1 PUBLISH straight to `on_delivery`: paho would build an MQTTMessage, parse MQTT 5
        properties into objects and match the topic against per-filter callbacks for each message (a
        fifth of the writer's receive time), and the writer uses none of it. Anything unusual (QoS 2,
        a topic that is not UTF-8, a malformed packet) is left to paho, which handles or rejects it."""
        qos = (self._in_packet["command"] & 0x06) >> 1
        if qos == 2:
            return super()._handle_publish()
        try:
            packet: bytes = self._in_packet["packet"]
            end = 2 + int.from_bytes(packet[:2], "big")
            topic = packet[2:end].decode()
            mid = 0
            if qos:
                mid, end = int.from_bytes(packet[end:end + 2], "big"), end + 2
            if self._protocol == mqtt.MQTTv5:
                properties_length, end = _variable_int(packet, end)
                end += properties_length
            if not topic or end > len(packet):
                return super()._handle_publish()
        except (UnicodeDecodeError, IndexError, ValueError):
            return super()._handle_publish()
        self.on_delivery(mid, qos, topic, packet[end:])
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_all(self, mids: list[int], qos: int) -> None:
        """Acknowledge these QoS `qos` deliveries (manual_ack): QoS 1 as one write of all their PUBACKs."""
        if qos != 1:
            for mid in mids:
                self.ack(mid, qos)
            return
        packets = b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids])
        self._packet_queue(mqtt.PUBACK, packets, 0, 1)

    def _packet_write(self) -> mqtt.MQTTErrorCode:
        """paho-mqtt 2.2 never counts its own writes as keep-alive activity (`_packet_write` returns before
        it updates `_last_msg_out`), so a writer busy acknowledging a backlog still sends PINGREQ every
        keepalive. Mosquitto 2.0 answers it only after the backlog it is sending, paho gives up waiting
        ("Keep alive timeout", measured: a reconnect every 60-90 s while draining 1,000,000 messages) and
        the whole in-flight window is delivered again. MQTT's keep-alive is about the client's own
        packets, so a write that sent something counts, and PINGREQ goes out only when the writer has
        been silent."""
        wrote = bool(self._out_packet)
        rc = super()._packet_write()
        if wrote:
            with self._msgtime_mutex:
                self._last_msg_out = time.monotonic()
        return rc


def _variable_int(data: bytes, pos: int) -> tuple[int, int]:
    """MQTT's variable byte integer at `pos`: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ValueError("variable byte integer longer than 4 bytes")
