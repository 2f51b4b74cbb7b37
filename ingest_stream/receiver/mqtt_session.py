"""One MQTT session of the writer: its own, or a dead member's that it drains.

Wraps paho-mqtt 2.x with what the guarantees need: a stable client id, clean start off, a
session expiry, the ReceiveMaximum in-flight window (our only queue bound), manual acks, and
reconnect with backoff. It never acknowledges anything by itself.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest_stream.broker import BrokerAddress, new_client
from ingest_stream.receiver.delivery import AckLedger, DeliverySink
from ingest_stream.receiver.metrics import IngestMetrics
from ingest_stream.receiver.mqtt_client import DrainingClient

log = logging.getLogger("ingest_stream.mqtt")


@dataclass(frozen=True)
class SessionOptions:
    client_id: str
    subscriptions: tuple[str, ...]  # filters to (re)subscribe on connect; empty = only drain the queue
    qos: int
    receive_maximum: int
    session_expiry_s: int
    protocol: str = "5"
    persistent: bool = True
    reconnect: bool = True
    keepalive_s: int = 30


class MqttSession:
    """Connects, subscribes, hands every delivery to `sink` (reading only while it has room), and reports
    its state."""

    def __init__(self, address: BrokerAddress, options: SessionOptions, sink: DeliverySink,
                 metrics: IngestMetrics, label: str = "own") -> None:
        self.address = address
        self.options = options
        self.label = label
        self.ledger = AckLedger(options.client_id)
        self.metrics = metrics
        self._sink = sink
        self._connected = threading.Event()
        self._ever_connected = False
        self.last_disconnect: ReasonCode | None = None
        self.last_message_at = time.monotonic()
        self.taken_over = False
        v5 = options.protocol == "5"
        self.client = new_client(
            address, options.client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            factory=functools.partial(DrainingClient, self._handle_delivery, sink.wait_for_room),
            clean_session=None if v5 else not options.persistent,
            manual_ack=True, reconnect_on_failure=options.reconnect,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_unsubscribe = self._handle_unsubscribe
        self._unsubscribed = threading.Event()

    def _connect_properties(self) -> Properties | None:
        if self.options.protocol != "5":
            return None
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.options.session_expiry_s if self.options.persistent else 0
        props.ReceiveMaximum = self.options.receive_maximum
        return props

    def start(self) -> None:
        kwargs: dict[str, object] = {"keepalive": self.options.keepalive_s}
        if self.options.protocol == "5":
            # Never MQTT_CLEAN_START_FIRST_ONLY (paho's default): it wipes our queue on every start.
            kwargs["clean_start"] = not self.options.persistent
            kwargs["properties"] = self._connect_properties()
        self.client.connect_async(self.address.host, self.address.port, **kwargs)  # type: ignore[arg-type]
        self.client.loop_start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _handle_connect(self, client: mqtt.Client, _userdata: object, flags: mqtt.ConnectFlags,
                        reason: ReasonCode, _props: Properties | None) -> None:
        if reason.is_failure:
            log.warning("mqtt connect refused", extra={"session": self.label, "reason": str(reason)})
            return
        self.ledger.connected(client)
        if self._ever_connected:
            self.metrics.reconnects.inc()
        self._ever_connected = True
        self._connected.set()
        self.metrics.mqtt_connected.labels(self.label).set(1)
        log.info("mqtt connected", extra={"session": self.label, "client_id": self.options.client_id,
                                          "session_present": flags.session_present})
        for topic in self.options.subscriptions:
            client.subscribe(topic, qos=self.options.qos)

    def _handle_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: mqtt.DisconnectFlags,
                           reason: ReasonCode, _props: Properties | None) -> None:
        self._connected.clear()
        self.ledger.disconnected()
        self.last_disconnect = reason
        # 0x8E: another connection with our client id took the session (its owner came back).
        self.taken_over = getattr(reason, "value", None) == 0x8E
        self.metrics.mqtt_connected.labels(self.label).set(0)
        log.warning("mqtt disconnected", extra={"session": self.label, "reason": str(reason)})

    def _handle_delivery(self, mid: int, qos: int, topic: str, payload: bytes) -> None:
        self.last_message_at = time.monotonic()
        self._sink.submit(self.ledger.received(mid, qos, topic, payload, time.time()))

    def _handle_unsubscribe(self, *_args: object) -> None:
        self._unsubscribed.set()

    def unsubscribe(self, filters: tuple[str, ...], timeout_s: float = 10) -> bool:
        self._unsubscribed.clear()
        self.client.unsubscribe(list(filters))
        return self._unsubscribed.wait(timeout_s)

    def stop(self, end_session: bool = False) -> None:
        """Disconnect; with end_session the broker forgets the session (and its subscriptions)."""
        props = None
        if end_session and self.options.protocol == "5":
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        if self.connected:
            self.client.disconnect(properties=props)
        self.client.loop_stop()
        self._connected.clear()
        self.metrics.mqtt_connected.labels(self.label).set(0)
