"""Broker sessions the benchmark prepares, drains and removes, with paho-mqtt 2.x.

A primed session is a persistent queue that fills while nobody is connected; the bare subscriber
drains one to measure the broker's ceiling. Nothing here parses or stores a message.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest_stream.broker import BrokerAddress, new_client
from ingest_stream.receiver.mqtt_client import DrainingClient, OnDelivery

QUEUE_EXPIRY_S = 3600


class SessionError(Exception):
    """The broker did not do what a benchmark step needs (refused, or stopped delivering)."""


@dataclass
class DrainResult:
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def _client(address: BrokerAddress, client_id: str, manual_ack: bool = False,
            on_delivery: OnDelivery | None = None) -> mqtt.Client:
    """Stock paho, or with `on_delivery` the writer's own client (always room: it only counts)."""
    factory: Callable[..., mqtt.Client] = (mqtt.Client if on_delivery is None else
                                           functools.partial(DrainingClient, on_delivery, lambda _timeout_s: True))
    return new_client(address, client_id, factory=factory, manual_ack=manual_ack)


def _connect(client: mqtt.Client, address: BrokerAddress, clean_start: bool, expiry_s: int,
             receive_maximum: int | None = None) -> None:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            refused.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    client.connect(address.host, address.port, keepalive=60, clean_start=clean_start, properties=props)
    client.loop_start()
    if not connected.wait(10) or refused:
        client.loop_stop()
        raise SessionError(f"the broker refused a benchmark client: {refused or 'no CONNACK'}")


def prime_session(address: BrokerAddress, client_id: str, filters: Sequence[str]) -> None:
    """Create a fresh persistent session subscribed (QoS 1) to `filters`, then leave it offline."""
    client = _client(address, client_id)
    _connect(client, address, clean_start=True, expiry_s=QUEUE_EXPIRY_S)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.subscribe([(f, 1) for f in filters])
    ok = subscribed.wait(10)
    client.disconnect()
    client.loop_stop()
    if not ok:
        raise SessionError(f"no SUBACK for {client_id}")


def wipe_session(address: BrokerAddress, client_id: str) -> None:
    """Clean start with expiry 0: the broker forgets the session and whatever it still queues."""
    client = _client(address, client_id)
    try:
        _connect(client, address, clean_start=True, expiry_s=0)
    except (OSError, SessionError):
        return
    client.disconnect()
    client.loop_stop()


def drain_session(address: BrokerAddress, client_id: str, expected: int, receive_maximum: int,
                  stall_s: float = 30.0, lean: bool = False) -> DrainResult:
    """The bare subscriber: resume the session, acknowledge each message at once, count to `expected`.

    Timed from the CONNECT to the last message, like the writer's drain is timed from its connect.
    `lean`: receive through the writer's own client (ingest_stream.receiver.mqtt_client) instead of stock paho.
    """
    done = threading.Event()
    state = {"count": 0, "last": 0.0}

    def received(mid: int, qos: int, *_message: object) -> None:
        client.ack(mid, qos)
        state["count"] += 1
        state["last"] = time.monotonic()
        if state["count"] >= expected:
            done.set()

    client = _client(address, client_id, manual_ack=True, on_delivery=received if lean else None)
    if not lean:
        client.on_message = lambda _c, _u, msg: received(msg.mid, msg.qos)
    started = time.monotonic()
    _connect(client, address, clean_start=False, expiry_s=QUEUE_EXPIRY_S, receive_maximum=receive_maximum)
    state["last"] = started
    while not done.wait(0.5):
        if time.monotonic() - state["last"] > stall_s:
            break
    client.disconnect()
    client.loop_stop()
    if state["count"] < expected:
        raise SessionError(f"the bare subscriber received {state['count']:,} of {expected:,} queued messages")
    return DrainResult(int(state["count"]), state["last"] - started)
