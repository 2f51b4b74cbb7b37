"""The fleet's MQTT side: one MQTT 5 connection per tenant, QoS 1 publishing, commands into a queue.

Publishing keeps a bounded window of unacknowledged messages, so history goes out as fast as the
broker acknowledges; this module must never decide what to send or answer commands itself. It logs in
and trusts an mqtts:// broker as the writer does (ingest_stream.broker, TDS_MQTT_CA_FILE).
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ingest_stream.broker import BrokerAddress, new_client
from ingest_stream.settings import BrokerTlsSettings
from tds_platform.simulate.commands import Outgoing

QOS = 1
STOP_POLL_S = 0.2


class MqttError(RuntimeError):
    """The broker cannot be reached or refused us: one sentence for the user."""


def broker_address(url: str, tls: BrokerTlsSettings | None = None) -> BrokerAddress:
    """mqtt://user:pass@host:port (mqtts:// for TLS), parsed as the stream writer parses it; `tls` says which CA
    vouches for an mqtts:// broker (default: TDS_MQTT_CA_FILE)."""
    try:
        BrokerAddress.from_url(url)
    except ValueError as exc:
        raise MqttError("the MQTT URL must look like mqtt://user:password@host:port (mqtts:// for TLS)") from exc
    try:
        return BrokerAddress.from_url(url, (tls or BrokerTlsSettings()).mqtt_ca_file)
    except ValueError as exc:  # the URL is good: the CA file is not
        raise MqttError(str(exc)) from exc


class TenantConnection:
    """One tenant's devices share a connection: the broker's ACL only cares about the username."""

    def __init__(self, tenant: str, address: BrokerAddress, inbox: queue.Queue[tuple[str, bytes]]) -> None:
        self.tenant = tenant
        self.address = address
        self.connected = threading.Event()
        self._refused: str | None = None
        self._inbox = inbox
        # A fresh client id per run: two simulators must not kick each other off the broker.
        client_id = f"tds-sim-{tenant}-{secrets.token_hex(4)}"
        self.client = new_client(address, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode,
                    _properties: object) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self.connected.set()
            return
        # Subscribing on every connect keeps commands flowing after a reconnect.
        client.subscribe(f"tds/{self.tenant}/+/+/cmd", qos=QOS)
        self.connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object, _reason: ReasonCode,
                       _properties: object) -> None:
        self.connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self._inbox.put((message.topic, bytes(message.payload)))

    def open(self, timeout_s: float) -> None:
        try:
            self.client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            where = self.address.display()
            raise MqttError(f"cannot reach the MQTT broker at {where} ({exc}); is it running?") from exc
        self.client.loop_start()
        if not self.connected.wait(timeout_s):
            self.close()
            raise MqttError(f"the MQTT broker at {self.address.display()} did not answer within {timeout_s:.0f} s")
        if self._refused:
            self.close()
            raise MqttError(f"the MQTT broker at {self.address.display()} refused tenant {self.tenant!r}: "
                            f"{self._refused}; check the account and its password")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class FleetLink:
    """Every tenant's connection, a shared publish window, and the commands devices received."""

    def __init__(self, addresses: dict[str, BrokerAddress], max_inflight: int = 200, timeout_s: float = 10,
                 stop: threading.Event | None = None) -> None:
        self.commands: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.timeout_s = timeout_s
        self.max_inflight = max_inflight
        self.stop = stop or threading.Event()
        self.dropped = 0
        self._window: deque[mqtt.MQTTMessageInfo] = deque()
        self._connections = {t: TenantConnection(t, a, self.commands) for t, a in addresses.items()}

    def open(self) -> None:
        opened = []
        try:
            for connection in self._connections.values():
                connection.open(self.timeout_s)
                opened.append(connection)
        except MqttError:
            for connection in opened:
                connection.close()
            raise

    def publish(self, message: Outgoing) -> None:
        connection = self._connections[message.tenant]
        # paho reconnects on its own; readings wait for it rather than pile up in memory.
        while not connection.connected.wait(STOP_POLL_S):
            if self.stop.is_set():
                self.dropped += 1  # shutting down while the broker is away; the device buffer still has it
                return
        self._window.append(connection.client.publish(message.topic, message.payload, qos=QOS))
        while len(self._window) >= self.max_inflight:
            self._settle(self._window.popleft(), time.monotonic() + self.timeout_s)

    def _settle(self, info: mqtt.MQTTMessageInfo, deadline: float) -> None:
        # RuntimeError: sent while the connection dropped; paho keeps it and resends it after reconnecting.
        with contextlib.suppress(RuntimeError):
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))

    def flush(self) -> None:
        """Wait (at most timeout_s in all) until the broker acknowledged everything published so far."""
        deadline = time.monotonic() + self.timeout_s
        while self._window:
            self._settle(self._window.popleft(), deadline)

    def close(self) -> None:
        self.flush()
        for connection in self._connections.values():
            connection.close()
