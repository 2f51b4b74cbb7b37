"""The stream writer's settings: one pydantic-settings model, `TDS_` prefix, each with a CLI flag.

Passed down explicitly; no other module of the writer reads the environment. URLs carry
credentials, so they are only ever logged through `redact_url`.
"""

from __future__ import annotations

import enum
import re
import socket
from datetime import timedelta
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest_stream.parsing import MessageParser, ParserLimits, parse_templates
from ingest_stream.store.stale_windows import DEFAULT_STALE_AFTER_HOURS

DEFAULT_TOPICS = "tds/{tenant}/{site}/{equipment}/{kind}"
# The broker's message_size_limit ships equal (deploy/mosquitto, tds_platform.stack.mosquitto).
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
MAX_RECEIVE_MAXIMUM = 65_535
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class Coordination(enum.StrEnum):
    """How several instances share the work.

    auto: `shared` when a group is set, else `none`. shared: MQTT 5 shared subscription plus
    takeover of dead members' sessions. lease: one active instance elected through PostgreSQL (for
    brokers without shared subscriptions). none: a single instance.
    """

    AUTO = "auto"
    SHARED = "shared"
    LEASE = "lease"
    NONE = "none"


class ParsingSettings(BaseSettings):
    """What decides how a message is parsed; shared by the writer and the platform's DLQ replay, so a
    replay judges a dead letter exactly as a writer started now would.

    The oldest reading accepted is the raw retention window before receipt (TDS_RETENTION_RAW_DAYS, the
    variable the platform's retention reads: a reading older than that would be dropped by the next
    retention run anyway) unless TDS_MAX_READING_AGE_DAYS says otherwise.
    """

    model_config = SettingsConfigDict(env_prefix="TDS_", extra="ignore")

    mqtt_topics: str = Field(default=DEFAULT_TOPICS, description="comma-separated topic templates")
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1,
                                   description="larger payloads go to the DLQ; keep the broker's message_size_limit "
                                   "equal")
    max_future_skew_s: float = Field(default=3600.0, ge=0)
    max_points_per_message: int = Field(default=10_000, ge=1)
    max_days_per_message: int = Field(default=32, ge=1, description="distinct days (TimescaleDB chunks) one "
                                      "message's readings may fall on")
    retention_raw_days: float | None = Field(default=30.0, gt=0, description="raw readings kept this many days "
                                             "(`keep`: forever); the default oldest reading accepted")
    max_reading_age_days: float | None = Field(default=None, gt=0, description="oldest reading accepted, in days "
                                               "before receipt; default: the raw retention")

    @field_validator("retention_raw_days", mode="before")
    @classmethod
    def _keep_forever(cls, value: object) -> object:
        return None if value == "keep" else value

    @property
    def max_reading_age(self) -> timedelta | None:
        days = self.max_reading_age_days or self.retention_raw_days
        return None if days is None else timedelta(days=days)

    def parser(self) -> MessageParser:
        """ValueError (one sentence) when a topic template is not valid."""
        limits = ParserLimits(max_payload_bytes=self.max_payload_bytes, max_points=self.max_points_per_message,
                              max_days=self.max_days_per_message, max_future_skew_s=self.max_future_skew_s,
                              max_age=self.max_reading_age)
        return MessageParser(parse_templates(self.mqtt_topics), limits)


class BrokerTlsSettings(BaseSettings):
    """Which certificate authority vouches for an mqtts:// broker; shared by everything that connects to the
    broker (the writer, gap backfill's commands, the simulator), so one TDS_MQTT_CA_FILE serves them all."""

    model_config = SettingsConfigDict(env_prefix="TDS_", extra="ignore")

    mqtt_ca_file: str | None = Field(default=None, description="CA bundle for mqtts:// (default: system CAs)")


class IngestSettings(ParsingSettings, BrokerTlsSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_", extra="ignore")

    database_url: str = Field(default="postgresql://tds_ingest@127.0.0.1:55432/tds",
                              description="postgresql://user:pass@host:port/db")
    mqtt_url: str = Field(default="mqtt://127.0.0.1:51884", description="mqtt://user:pass@host:port (the broker's "
                          "service listener), mqtts:// for TLS")
    mqtt_group: str | None = Field(default=None, description="shared-subscription group; unset = no sharing")
    mqtt_qos: int = Field(default=1, description="0 or 1 (QoS 2 is refused: paho would complete its handshake "
                          "before the commit)")
    mqtt_protocol: str = Field(default="5", description="MQTT protocol: 5 or 3.1.1")
    instance_id: str = Field(default_factory=socket.gethostname, description="stable id of this instance")
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=9108, ge=0, le=65535, description="health and metrics port; 0 = any free port")
    batch_size: int = Field(default=2000, ge=1, description="flush when this many messages are waiting")
    # 50, not 100: at 10,000 msg/s the p99 publish->commit fell from 150-232 ms to 98 ms (back to back, same
    # stack); a backlog fills batches by size long before this age, so drain throughput does not change.
    batch_max_age_ms: int = Field(default=50, ge=1, description="flush when the oldest message waited this long")
    write_connections: int = Field(default=2, ge=1, le=8,
                                   description="database connections writing batches at once")
    receive_maximum: int = Field(default=0, ge=0, le=MAX_RECEIVE_MAXIMUM,
                                 description="MQTT 5 in-flight window, and the most messages held uncommitted "
                                 "(reading pauses there); 0 = (write connections + 1) x batch size")
    max_uncommitted_bytes: int = Field(default=16 * 1024 * 1024, ge=1,
                                       description="the most payload bytes held uncommitted (reading pauses there)")
    stale_after_hours: int = Field(
        default=DEFAULT_STALE_AFTER_HOURS, ge=1,
        description="readings older than this many hours before the running one are recorded in "
                    "tds.stale_windows for a refresh; keep it below TDS_ROLLUP_TRAILING_HOURS")
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0, description="how long the broker keeps our queue")
    coordination: Coordination = Coordination.AUTO
    heartbeat_s: float = Field(default=2.0, gt=0)
    takeover_after_s: float = Field(default=20.0, gt=0, description="a member silent this long is drained")
    lease_ttl_s: float = Field(default=10.0, gt=0)
    dry_run: bool = Field(default=False, description="parse and validate everything, write nothing")
    recent_data_warning_s: float = Field(default=300.0, gt=0)
    recent_data_critical_s: float = Field(default=1800.0, gt=0)
    stalled_after_s: float = Field(default=30.0, gt=0, description="/health is degraded when messages wait "
                                   "uncommitted and nothing was committed for this long")
    max_new_equipment_per_hour: int = Field(default=1_000, ge=1, description="per tenant; more go to the DLQ")
    max_new_series_per_hour: int = Field(default=10_000, ge=1, description="per tenant; more go to the DLQ")
    log_level: str = "INFO"

    @field_validator("instance_id", "mqtt_group")
    @classmethod
    def _safe_identifier(cls, value: str | None) -> str | None:
        if value is not None and not _SAFE_ID.match(value):
            raise ValueError("must be 1-64 characters from A-Z a-z 0-9 _ . : -")
        return value

    @field_validator("mqtt_qos")
    @classmethod
    def _qos(cls, value: int) -> int:
        # With QoS 2 paho answers PUBREC on receipt: the broker then counts the message delivered, and a
        # crash before the commit loses it. QoS 1 with manual PUBACK after the commit never can.
        if value not in (0, 1):
            raise ValueError("must be 0 or 1: with QoS 2 a message is acknowledged on receipt, before its commit")
        return value

    @field_validator("mqtt_protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value not in {"5", "3.1.1"}:
            raise ValueError("must be 5 or 3.1.1")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> IngestSettings:
        if self.coordination is Coordination.SHARED and not self.mqtt_group:
            raise ValueError("coordination 'shared' needs a group (TDS_MQTT_GROUP / --group)")
        if self.coordination is Coordination.SHARED and self.mqtt_protocol != "5":
            raise ValueError("shared subscriptions need MQTT 5; use --coordination lease with MQTT 3.1.1")
        if self.receive_maximum and self.receive_maximum < self.batch_size:
            raise ValueError("receive maximum must be at least the batch size, or batches can never fill")
        urlsplit(self.mqtt_url)
        return self

    @property
    def effective_coordination(self) -> Coordination:
        if self.coordination is Coordination.AUTO:
            return Coordination.SHARED if self.mqtt_group and self.mqtt_protocol == "5" else Coordination.NONE
        return self.coordination

    @property
    def effective_receive_maximum(self) -> int:
        """By default a batch for every write connection plus the one filling."""
        return self.receive_maximum or min((self.write_connections + 1) * self.batch_size, MAX_RECEIVE_MAXIMUM)

    @property
    def health_url(self) -> str | None:
        """Where `tds status` finds this instance's health endpoint (recorded with its heartbeat)."""
        if not self.http_port:
            return None
        host = socket.gethostname() if self.http_host in {"0.0.0.0", "::"} else self.http_host
        return f"http://{host}:{self.http_port}"


_SECRET_QUERY_KEYS = {"password", "sslpassword"}
# libpq's key=value form: `host=db user=tds password=secret` or `password='se cret'` (quotes, \-escapes).
_SECRET_KEYWORD_VALUE = re.compile(r"\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*|(?=\s|$))")


def redact_url(url: str) -> str:
    """scheme://user:***@host:port/path — never print a password: in the netloc, in the query (libpq
    accepts `?password=...`), or in a libpq key=value connection string."""
    if "://" not in url:
        return _SECRET_KEYWORD_VALUE.sub(r"\1***", url)
    parts = original = urlsplit(url)
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = unquote(parts.username or "")
        parts = parts._replace(netloc=f"{user}:***@{netloc}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key in _SECRET_QUERY_KEYS for key, _ in query):
        redacted = [(key, "***" if key in _SECRET_QUERY_KEYS else value) for key, value in query]
        parts = parts._replace(query=urlencode(redacted, safe="*"))
    return url if parts == original else parts.geturl()
