"""Broker sessions the benchmark prepares, drains and removes, with paho-mqtt 2.x.

A primed session is a persistent queue that fills while nobody is connected; the bare subscriber
drains one to measure the broker's ceiling. Nothing here parses or stores a message.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest_stream.broker import BrokerAddress, new_client
from ingest_stream.receiver.mqtt_client import DrainingClient, OnDelivery

QUEUE_EXPIRY_S = 3600
NATIVE_SUBSCRIBER = "mosquitto_sub"


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


def _native_options(address: BrokerAddress, client_id: str, filters: Sequence[str], expected: int,
                    receive_maximum: int) -> list[str]:
    """mosquitto_sub's options: resume the persistent session (MQTT 5, -c, same expiry) at QoS 1 with the
    writer's ReceiveMaximum, exit after `expected` messages, print nothing per message but a newline."""
    options = ["-V", "mqttv5", "-h", address.host, "-p", str(address.port), "-i", client_id, "-c",
               "-x", str(QUEUE_EXPIRY_S), "-q", "1", "-C", str(expected), "-N", "-F", "",
               "-D", "connect", "receive-maximum", str(receive_maximum)]
    if address.tls:
        options += ["--cafile", address.ca_file] if address.ca_file else ["--capath", "/etc/ssl/certs"]
    for topic in filters:
        options += ["-t", topic]
    return options


def native_drain(address: BrokerAddress, client_id: str, filters: Sequence[str], expected: int,
                 receive_maximum: int, timeout_s: float = 300.0) -> DrainResult:
    """The broker's delivery ceiling: Mosquitto's own C subscriber drains the primed session.

    `mosquitto_sub -c -q 1 -C N` acknowledges each message as it arrives and exits after the N-th,
    so the process's lifetime is the drain (its start-up, a few ms, is inside the figure, as the
    writer's connect is inside its own). The login goes in through mosquitto_sub's options file
    (XDG_CONFIG_HOME), never on a command line another user could read.
    """
    program = shutil.which(NATIVE_SUBSCRIBER)
    if program is None:
        raise SessionError(f"{NATIVE_SUBSCRIBER} is not installed (Debian package mosquitto-clients): "
                           "the benchmark needs it for the broker's ceiling")
    with tempfile.TemporaryDirectory(prefix="tdsbench-sub-") as config_home:
        if address.username:
            config = Path(config_home) / "mosquitto_sub"
            config.touch(mode=0o600)
            config.write_text(f"-u {address.username}\n-P {address.password}\n")
        environment = {**os.environ, "XDG_CONFIG_HOME": config_home}
        started = time.monotonic()
        try:
            finished = subprocess.run([program, *_native_options(address, client_id, filters, expected,
                                                                 receive_maximum)],
                                      env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise SessionError(f"{NATIVE_SUBSCRIBER} did not receive {expected:,} queued messages "
                               f"within {timeout_s:.0f}s") from None
        seconds = time.monotonic() - started
    if finished.returncode != 0:
        reason = finished.stderr.decode(errors="replace").strip().splitlines()
        raise SessionError(f"{NATIVE_SUBSCRIBER} failed (exit {finished.returncode}): "
                           f"{reason[0] if reason else 'no message'}")
    return DrainResult(expected, seconds)
