"""The broker as every component reaches it: its address, and the one place a paho client is set up for it.

The writer's sessions, gap backfill's commands and the simulator all log in and trust an mqtts://
broker the same way, here (two of them once ignored TDS_MQTT_CA_FILE and could not reach a broker
with a private CA). It never connects, subscribes or publishes: each caller owns its connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

ClientT = TypeVar("ClientT", bound=mqtt.Client)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)  # never in a log line or traceback
    tls: bool
    ca_file: str | None = None  # mqtts:// only: the CA that signed the broker's certificate (None: the system's)

    @classmethod
    def from_url(cls, url: str, ca_file: str | None = None) -> BrokerAddress:
        """ValueError (one sentence) for a URL that is not mqtt:// or mqtts:// with a host, or an mqtts:// one
        whose CA file cannot be read as certificates."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme or 'nothing'}://")
        if not parts.hostname:
            raise ValueError("MQTT URL has no host (expected mqtt://user:pass@host:port)")
        tls = parts.scheme in {"mqtts", "ssl"}
        if tls and ca_file is not None:
            _check_ca_file(ca_file)
        return cls(host=parts.hostname, port=parts.port or (8883 if tls else 1883),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, tls=tls, ca_file=ca_file)

    def display(self) -> str:
        """Where we connect, without the password (safe for logs)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def _check_ca_file(path: str) -> None:
    """Load it once now, so a wrong TDS_MQTT_CA_FILE is one sentence at start-up, not a traceback at connect."""
    try:
        ssl.create_default_context(cafile=path)
    except OSError as exc:  # FileNotFoundError, PermissionError, ssl.SSLError (not PEM certificates)
        reason = exc.strerror or str(exc)
        raise ValueError(f"cannot use {path} as the broker's CA file (TDS_MQTT_CA_FILE): {reason}") from None


def new_client(address: BrokerAddress, client_id: str, *, protocol: int = mqtt.MQTTv5,
               factory: Callable[..., ClientT] = mqtt.Client, **options: Any) -> ClientT:
    """A paho client (callback API 2) that logs in with the address's account and, for mqtts://, accepts only a
    broker whose certificate the address's CA file (else the system's CAs) vouches for. `factory` builds it
    (paho's Client or a subclass, with any leading arguments bound); `options` are paho's own."""
    client = factory(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **options)
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(ca_certs=address.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    return client
