"""A fast MQTT 5 QoS 1 publisher for loading the broker: pre-encoded packets over one socket.

A Python paho publisher tops out near 4-5,000 msg/s (measured: ARCHITECTURE.md#measured-facts),
slower than what it must load; this one pipelines publishes under the broker's Receive Maximum and
counts every PUBACK by outcome, so a benchmark always knows exactly what the broker accepted. It
never subscribes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest_stream.broker import BrokerAddress

CONNECT, CONNACK, PUBACK, DISCONNECT = 0x10, 0x20, 0x40, 0xE0
PUBLISH_QOS1 = 0x32
# Packet ids are 16-bit and reused in order; a window well under 65,535 never reuses one in flight.
MAX_WINDOW = 20_000
CHUNK = 512

Message = tuple[str, bytes]


class PublishError(Exception):
    """The broker refused the connection or closed it while we were publishing."""


@dataclass
class PublishResult:
    sent: int
    acked: int
    refused: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + _varint(len(body)) + body


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    """CONNECT v5, clean start, session expiry 0, keep-alive off (the load is one burst)."""
    flags = 0x02 | (0x80 if username else 0) | (0x40 if password else 0)
    body = _string("MQTT") + bytes((5, flags)) + (0).to_bytes(2, "big") + b"\x00" + _string(client_id)
    if username:
        body += _string(username)
    if password:
        body += _string(password)
    return _packet(CONNECT, body)


def publish_packet(packet_id: int, topic: str, payload: bytes) -> bytes:
    return _packet(PUBLISH_QOS1, _string(topic) + packet_id.to_bytes(2, "big") + b"\x00" + payload)


class FastPublisher:
    """One connection; `publish` blocks until every message sent is acknowledged (or refused)."""

    def __init__(self, address: BrokerAddress, client_id: str, timeout_s: float = 30.0) -> None:
        if address.tls:
            raise PublishError("the benchmark publisher speaks plain MQTT only; use the local stack's broker")
        self.address = address
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._lock = threading.Condition()
        self._outstanding = 0
        self._acked = 0
        self._refused = 0
        self._closed_reason: str | None = None
        self._next_id = 0
        self.window = MAX_WINDOW

    def __enter__(self) -> FastPublisher:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def connect(self) -> None:
        sock = socket.create_connection((self.address.host, self.address.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(connect_packet(self.client_id, self.address.username, self.address.password))
        kind, body = self._read_packet(sock)
        if kind != CONNACK or len(body) < 2 or body[1] >= 0x80:
            sock.close()
            raise PublishError(f"the broker refused the benchmark publisher (reason code {body[1:2].hex() or '?'})")
        properties = Properties(PacketTypes.CONNACK)
        if len(body) > 2:
            properties.unpack(body[2:])
        self.window = min(getattr(properties, "ReceiveMaximum", 65_535), MAX_WINDOW)
        sock.settimeout(None)
        self._sock = sock
        threading.Thread(target=self._read_acks, name="bench-puback-reader", daemon=True).start()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.sendall(_packet(DISCONNECT, b"\x00"))
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None

    def _read_packet(self, sock: socket.socket) -> tuple[int, bytes]:
        """One whole packet from the socket (used before the reader thread runs)."""
        while True:
            parsed = _split_packet(self._buffer)
            if parsed is not None:
                kind, body, end = parsed
                self._buffer = self._buffer[end:]
                return kind, body
            chunk = sock.recv(65_536)
            if not chunk:
                raise PublishError("the broker closed the connection")
            self._buffer += chunk

    def _read_acks(self) -> None:
        assert self._sock is not None
        sock, pending = self._sock, bytearray(self._buffer)
        while True:
            try:
                chunk = sock.recv(262_144)
            except OSError:
                chunk = b""
            if not chunk:
                self._finish("the broker closed the connection")
                return
            pending += chunk
            acked = refused = 0
            position = 0
            while (parsed := _split_packet(pending, position)) is not None:
                kind, body, position = parsed
                if kind == PUBACK:
                    # No reason code means success; 0x10 "no matching subscribers" is accepted too.
                    if len(body) > 2 and body[2] >= 0x80:
                        refused += 1
                    else:
                        acked += 1
                elif kind == DISCONNECT:
                    self._finish(f"the broker disconnected us (reason code {body[:1].hex() or '00'})")
                    return
            del pending[:position]
            with self._lock:
                self._acked += acked
                self._refused += refused
                self._outstanding -= acked + refused
                self._lock.notify_all()

    def _finish(self, reason: str) -> None:
        with self._lock:
            self._closed_reason = reason
            self._lock.notify_all()

    def _packet_ids(self, count: int) -> Iterator[int]:
        for _ in range(count):
            self._next_id = self._next_id % 65_535 + 1
            yield self._next_id

    def _send(self, messages: list[Message]) -> None:
        """Send one chunk once the window has room for all of it."""
        assert self._sock is not None
        with self._lock:
            limit = time.monotonic() + self.timeout_s
            while self._outstanding + len(messages) > self.window and self._closed_reason is None:
                if not self._lock.wait(max(limit - time.monotonic(), 0.0)):
                    raise PublishError(f"no PUBACK from the broker for {self.timeout_s:.0f}s")
            if self._closed_reason is not None:
                raise PublishError(self._closed_reason)
            self._outstanding += len(messages)
        ids = self._packet_ids(len(messages))
        self._sock.sendall(b"".join(publish_packet(pid, topic, payload)
                                    for pid, (topic, payload) in zip(ids, messages, strict=True)))

    def _settle(self, sent: int, started: float) -> PublishResult:
        with self._lock:
            limit = time.monotonic() + self.timeout_s
            while self._outstanding and self._closed_reason is None:
                if not self._lock.wait(max(limit - time.monotonic(), 0.0)):
                    break
            return PublishResult(sent, self._acked, self._refused, time.monotonic() - started)

    def _reset_counts(self) -> None:
        with self._lock:
            self._acked = self._refused = 0

    def publish(self, messages: Iterable[Message]) -> PublishResult:
        """Send everything as fast as the broker acknowledges it."""
        self._reset_counts()
        started = time.monotonic()
        sent = 0
        chunk: list[Message] = []
        for message in messages:
            chunk.append(message)
            if len(chunk) == CHUNK:
                self._send(chunk)
                sent += len(chunk)
                chunk = []
        if chunk:
            self._send(chunk)
            sent += len(chunk)
        return self._settle(sent, started)

    def publish_paced(self, make: Callable[[int, float], Message], rate: float, seconds: float,
                      tick_s: float = 0.005) -> PublishResult:
        """`rate` messages per second for `seconds`; `make(n, now)` builds message n at wall time now."""
        self._reset_counts()
        total = round(rate * seconds)
        started = time.monotonic()
        sent = 0
        while sent < total:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            if due > sent:
                now = time.time()
                self._send([make(n, now) for n in range(sent, due)])
                sent = due
            time.sleep(tick_s)
        return self._settle(sent, started)


def _split_packet(data: bytes | bytearray, start: int = 0) -> tuple[int, bytes, int] | None:
    """(packet type, body, end position) of the packet at `start`, or None if it is not all here."""
    if len(data) - start < 2:
        return None
    length, multiplier, position = 0, 1, start + 1
    while True:
        if position >= len(data):
            return None
        byte = data[position]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        position += 1
        if not byte & 0x80:
            break
    end = position + length
    if end > len(data):
        return None
    return data[start] & 0xF0, bytes(data[position:end]), end
