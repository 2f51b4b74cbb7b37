"""What one MQTT message turns into: readings, events, command acks, or one dead letter.

These are plain values passed from the pure parsing layer to the database writer; they must never
carry I/O handles or mutable state, and nobody changes one after it is built.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Quality(enum.IntEnum):
    """OPC UA severities, stored as smallint in tds.telemetry.quality."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class Kind(enum.StrEnum):
    TELEM = "telem"
    EVENT = "event"
    ACK = "ack"
    CMD = "cmd"


class DeadLetterReason(enum.StrEnum):
    """Why a message could not be landed; a small fixed set (it is a Prometheus label)."""

    OVERSIZED = "oversized"
    EMPTY_PAYLOAD = "empty_payload"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNSUPPORTED_SCHEMA = "unsupported_schema"
    BAD_TIMESTAMP = "bad_timestamp"
    TOO_MANY_DAYS = "too_many_days"  # readings on more distinct days than one message may touch
    UNKNOWN_TOPIC = "unknown_topic"
    HOSTILE_TOPIC = "hostile_topic"
    UNKNOWN_KIND = "unknown_kind"
    DATABASE_REJECTED = "database_rejected"
    DATABASE_LIMIT = "database_limit"  # written alone, it still exhausts a database resource
    REGISTRY_QUOTA = "registry_quota"  # its tenant registered all the new equipment/series it may this hour


@dataclass(frozen=True, slots=True)
class TopicAddress:
    tenant: str
    site: str | None
    equipment: str
    kind: Kind


@dataclass(slots=True)
class Reading:
    """One point: becomes one row of tds.telemetry, keyed by (tenant, equipment, metric, ts).

    Not frozen on purpose: the parser builds one per point on the writer's hot path, and a frozen
    dataclass's __init__ (object.__setattr__ per field) cost 5x as much. Treat it as immutable.
    """

    tenant: str
    site: str | None
    equipment: str
    metric: str
    ts: datetime
    value: float | None
    value_text: str | None
    unit: str | None
    quality: Quality


@dataclass(frozen=True, slots=True)
class Event:
    ts: datetime
    tenant: str
    site: str | None
    equipment: str
    type: str
    severity: str | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommandAck:
    tenant: str
    equipment: str
    cmd_id: str
    status: str
    detail: str | None
    ts: datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: DeadLetterReason
    detail: str

    def key(self) -> bytes:
        """What makes a redelivery of this message the same dead letter (tds.dlq.message_key): MQTT gives a
        message no identity that survives redelivery, so everything the row keeps. An oversized payload's
        detail carries the whole payload's SHA-256, so two with the same kept prefix stay apart."""
        digest = hashlib.sha256()
        for part in (self.topic.encode(), self.reason.value.encode(), self.detail.encode()):
            digest.update(len(part).to_bytes(4, "big"))
            digest.update(part)
        digest.update(self.payload)
        return digest.digest()


@dataclass(slots=True)
class Parsed:
    """Everything one message produced. Empty (no rows, no dead letter) means "ignore": e.g.
    the platform's own commands, which a `tds/+/+/+/+` subscription also receives.

    Not frozen for the same reason as Reading: one is built per message (a frozen one cost ~0.5 us,
    a sixth of parsing a 1-point message). Treat it as immutable."""

    readings: tuple[Reading, ...] = ()
    events: tuple[Event, ...] = ()
    acks: tuple[CommandAck, ...] = ()
    dead_letter: DeadLetter | None = None
