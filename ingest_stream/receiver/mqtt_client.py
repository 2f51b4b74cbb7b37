"""paho-mqtt's client, tuned for a subscriber that drains a backlog: one process core is the writer's
whole receive budget, and stock paho spends most of it on system calls.

Measured on a 1,000,000-message backlog, stock paho 2.2 as a subscriber: one `select` and three
`recv` calls per message (command byte, length byte, body: `loop_read` handles one packet per wake-up
when nothing of ours is in flight), and one wake-up byte plus one `send` per acknowledgement. Here the
socket is read in large chunks, the QoS 0/1 PUBLISH packets in a chunk go to the writer straight from
it (paho reads each packet with three calls and a dict of state: a third of the receiving process's
CPU on a 1-point backlog), and a commit's acknowledgements go out as one write. Nothing about what is
acknowledged, or when, changes: that stays the ledger's decision (delivery.py).
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
# PUBLISH as the first byte of a packet: type 3, then DUP, QoS (2 bits), RETAIN. The mask keeps the type
# and QoS's high bit, so QoS 0 and 1 match and QoS 2 (paho's to handle) and the malformed QoS 3 do not.
_PUBLISH = 0x30
_QOS_2 = 0x04
_PUBLISH_QOS_0_1_MASK = 0xF0 | _QOS_2
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

    def buffered(self) -> tuple[bytes, int]:
        """The chunk read ahead and where its unread part starts (for DrainingClient's direct path)."""
        return self._chunk, self._offset

    def consumed(self, offset: int) -> None:
        """The direct path handled the chunk's bytes up to `offset`."""
        self._offset = offset

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
            if self._read_buffered_publishes():
                continue
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _read_buffered_publishes(self) -> bool:
        """Handle the QoS 0/1 PUBLISH packets already read ahead, straight from the chunk: paho's
        `_packet_read` takes three `recv` calls and a dict of state per packet (half of the receiving
        thread's time on a 1-point backlog). Stops at the first packet that is not a complete QoS 0/1
        PUBLISH (partial, another type, malformed) and leaves it to paho; stops when the writer holds all
        it may. True when it handled at least one packet."""
        sock = self._sock
        if not isinstance(sock, ChunkedSocket) or self._in_packet["command"] != 0:
            return False
        chunk, offset = sock.buffered()
        size, v5, deliver, has_room = len(chunk), self._protocol == mqtt.MQTTv5, self.on_delivery, self.has_room
        handled = 0
        while offset + 2 <= size and handled < READ_BURST and (chunk[offset] & _PUBLISH_QOS_0_1_MASK) == _PUBLISH:
            try:
                remaining, start = _variable_int(chunk, offset + 1)
            except (IndexError, ValueError):
                break  # the length itself is not all here yet (or malformed): paho's turn
            end = start + remaining
            if end > size:
                break
            publish = _parse_publish(chunk, start, end, bool(chunk[offset] & 0x02), v5)
            if publish is None or not has_room(0.0):
                break
            deliver(*publish)
            offset, handled = end, handled + 1
        if handled:
            sock.consumed(offset)
            with self._msgtime_mutex:
                self._last_bytes_received = time.monotonic()
        return handled > 0

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        """A QoS 0/1 PUBLISH paho read itself, straight to `on_delivery`: paho would build an MQTTMessage,
        parse MQTT 5 properties into objects and match the topic against per-filter callbacks for each
        message, and the writer uses none of it. Anything unusual (QoS 2, a topic that is not UTF-8, a
        malformed packet) is left to paho, which handles or rejects it."""
        command = self._in_packet["command"]
        packet: bytes = bytes(self._in_packet["packet"])
        publish = None if command & _QOS_2 else _parse_publish(packet, 0, len(packet), bool(command & 0x02),
                                                               self._protocol == mqtt.MQTTv5)
        if publish is None:
            return super()._handle_publish()
        self.on_delivery(*publish)
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


def _parse_publish(data: bytes, start: int, end: int, qos_1: bool, v5: bool) -> tuple[int, int, str, bytes] | None:
    """(packet id, qos, topic, payload) of the QoS 0/1 PUBLISH body in data[start:end], or None when it is
    not one paho would accept as is (empty or non-UTF-8 topic, lengths past the end)."""
    try:
        topic_end = start + 2 + int.from_bytes(data[start:start + 2], "big")
        topic = data[start + 2:topic_end].decode()
        position, mid = topic_end, 0
        if qos_1:
            mid, position = int.from_bytes(data[position:position + 2], "big"), position + 2
        if v5:
            properties_length, position = _variable_int(data, position)
            position += properties_length
    except (UnicodeDecodeError, IndexError, ValueError):
        return None
    if not topic or topic_end > end or position > end:
        return None
    return mid, 1 if qos_1 else 0, topic, data[position:end]


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
