"""Publishes one command to a device over MQTT 5 with QoS 1 and waits for the broker's PUBACK.

A short-lived connection per command (backfills are rare); it never subscribes: the device's
answer comes back through the stream writer into tds.cmd_ack. It logs in and trusts an mqtts://
broker as the writer does (ingest_stream.broker, TDS_MQTT_CA_FILE).
"""

from __future__ import annotations

import secrets
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest_stream.broker import BrokerAddress, new_client
from ingest_stream.settings import BrokerTlsSettings

QOS = 1


class CommandError(RuntimeError):
    """The command could not be handed to the broker; one sentence, never the password."""


class _Acknowledgements:
    """The broker's answers to our CONNECT and PUBLISH, handed from paho's thread to the caller's."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.published = threading.Event()
        self.refusal: str | None = None

    def on_connect(self, _client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode,
                   _properties: object) -> None:
        if reason.is_failure:
            self.refusal = f"the broker refused the connection: {reason}"
        self.connected.set()

    def on_publish(self, _client: mqtt.Client, _userdata: object, _mid: int, reason: ReasonCode,
                   _properties: object) -> None:
        if reason.is_failure:
            self.refusal = f"the broker refused the command: {reason}"
        self.published.set()


def publish_command(url: str, topic: str, payload: bytes, timeout_s: float = 10.0,
                    tls: BrokerTlsSettings | None = None) -> None:
    """Deliver `payload` to the broker on `topic` (QoS 1); CommandError when it was not acknowledged.
    `tls` says which CA vouches for an mqtts:// broker; by default TDS_MQTT_CA_FILE, read when the command
    is sent (as the broker account itself is resolved then)."""
    try:
        address = BrokerAddress.from_url(url, (tls or BrokerTlsSettings()).mqtt_ca_file)
    except ValueError as error:
        raise CommandError(str(error)) from None
    where = f"{'mqtts' if address.tls else 'mqtt'}://{address.host}:{address.port}"
    acks = _Acknowledgements()
    client = new_client(address, f"tds-backfill-{secrets.token_hex(6)}")
    client.on_connect = acks.on_connect
    client.on_publish = acks.on_publish
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0  # nothing to keep: we only publish
    try:
        client.connect(address.host, address.port, keepalive=30, clean_start=True, properties=properties)
    except OSError as error:
        raise CommandError(f"cannot reach the MQTT broker at {where}: {error}") from None
    client.loop_start()
    try:
        if not acks.connected.wait(timeout_s):
            raise CommandError(f"the MQTT broker at {where} did not answer within {timeout_s:g} s")
        if acks.refusal is None:
            client.publish(topic, payload, qos=QOS)
            if not acks.published.wait(timeout_s):
                raise CommandError(f"the MQTT broker at {where} did not acknowledge the command within {timeout_s:g} s")
        if acks.refusal is not None:
            raise CommandError(acks.refusal)
    finally:
        client.disconnect()
        client.loop_stop()
