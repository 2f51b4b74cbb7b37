"""One MQTT message (topic, payload bytes, time of receipt) -> readings, an event, an ack, or one dead letter.

Pure and total: it never raises, never does I/O, and never lands part of a message.

Order of checks: topic (unknown_topic, hostile_topic, unknown_kind; `cmd` topics are ignored), then
size (oversized, empty_payload), decoding (invalid_utf8, invalid_json), then the payload against its
model (unsupported_schema, bad_timestamp, schema_violation), then what its readings would touch in the
database (oversized for too many points, too_many_days). The first failure decides the reason.

What one message may touch is bounded because the database pays for it inside one batch transaction:
every distinct day is a TimescaleDB chunk, and a message with readings on thousands of days exhausted
PostgreSQL's lock table ("out of shared memory") for the whole batch. A payload over the size limit is
kept as its size, its SHA-256 and a prefix, never whole: the broker may be configured to pass far more.

Telemetry first tries the fast path (fast.py), which lands the common valid messages without pydantic;
whatever it does not take is validated by the models, which decide every dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from ingest_stream.parsing import payloads
from ingest_stream.parsing.adapters import AdapterError, Document, Location, TelemetryAdapter, adapter_for, dotted
from ingest_stream.parsing.fast import FastTelemetry
from ingest_stream.parsing.names import DEFAULT_MAX_NAME_LENGTH, shown, storable
from ingest_stream.parsing.payloads import AckV1, EventV1, TelemetryV1, ValidationLimits
from ingest_stream.parsing.topics import TopicTemplate, topic_problem
from ingest_stream.records import (
    CommandAck,
    DeadLetter,
    DeadLetterReason,
    Event,
    Kind,
    Parsed,
    Reading,
    TopicAddress,
)

# A fleet publishes on a bounded set of topics; remembering their addresses skips the per-segment name checks.
TOPIC_CACHE_SIZE = 16_384
# What a dead letter keeps of a payload over the size limit (plus its size and SHA-256 in the detail).
OVERSIZED_KEPT_BYTES = 1024
Model = TypeVar("Model", bound=BaseModel)
_REASONS_BY_ERROR_TYPE = {
    payloads.BAD_TIMESTAMP: DeadLetterReason.BAD_TIMESTAMP,
    payloads.UNSUPPORTED_SCHEMA: DeadLetterReason.UNSUPPORTED_SCHEMA,
}


@dataclass(frozen=True)
class ParserLimits:
    """Bounds on what one message may carry; every field can be overridden from settings.

    A reading is accepted from `earliest_ts`, or from `max_age` before the message's time of receipt
    when that is later, up to `max_future_skew_s` after it; `max_days` bounds the distinct UTC days
    (TimescaleDB chunks) one message's readings fall on.
    """

    max_payload_bytes: int = 256 * 1024
    max_points: int = 10_000
    max_days: int = 32
    max_future_skew_s: float = 3600
    max_age: timedelta | None = None
    earliest_ts: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    max_name_length: int = DEFAULT_MAX_NAME_LENGTH

    def __post_init__(self) -> None:
        if self.earliest_ts.tzinfo is None:
            raise ValueError("ParserLimits.earliest_ts must be timezone-aware.")
        sizes = (self.max_payload_bytes, self.max_points, self.max_days, self.max_name_length)
        if min(sizes) < 1 or self.max_future_skew_s < 0 or (self.max_age is not None and self.max_age <= timedelta()):
            raise ValueError("ParserLimits sizes and max_age must be positive and max_future_skew_s must not be "
                             "negative.")

    def earliest(self, received_at: datetime) -> datetime:
        """The oldest reading time accepted in a message received at `received_at`."""
        if self.max_age is None:
            return self.earliest_ts
        oldest = received_at - self.max_age  # once per message: no max() call on the hot path
        return oldest if oldest > self.earliest_ts else self.earliest_ts


class DeadLetterError(Exception):
    """Raised inside the parser for a message that cannot be landed; becomes its dead letter, which
    keeps `kept` instead of the payload when that is given (a prefix of an oversized one)."""

    def __init__(self, reason: DeadLetterReason, detail: str, kept: bytes | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.kept = kept


class MessageParser:
    """Holds the topic templates and limits; `parse` is called once per received message.

    `fast_path=False` validates every telemetry message with the models: the same results, slower; the
    differential test compares the two.
    """

    def __init__(
        self, templates: Sequence[TopicTemplate], limits: ParserLimits = ParserLimits(), *, fast_path: bool = True
    ) -> None:
        if not templates:
            raise ValueError("MessageParser needs at least one topic template.")
        self.templates = tuple(templates)
        self.limits = limits
        self._future_skew = timedelta(seconds=limits.max_future_skew_s)
        self._addresses: dict[str, TopicAddress] = {}
        self._fast = FastTelemetry(limits.max_name_length, limits.max_points, limits.max_days) if fast_path else None

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> Parsed:
        """What the message lands as. Never raises: an unexpected error (a bug) becomes a dead letter
        whose detail starts with "parser bug", so the writer never loops on a poison message."""
        try:
            return self._parse(topic, payload, received_at)
        except DeadLetterError as rejected:
            kept = payload if rejected.kept is None else rejected.kept
            return _dead_letter(topic, kept, rejected.reason, rejected.detail)
        except Exception as error:  # total by contract: a bug must not stop the writer on a poison message
            detail = f"parser bug, please report: {type(error).__name__}: {error}"
            return _dead_letter(topic, payload, DeadLetterReason.SCHEMA_VIOLATION, detail)

    def _parse(self, topic: str, payload: bytes, received_at: datetime) -> Parsed:
        address = self._addresses.get(topic) or self._address(topic)
        if address.kind is Kind.CMD:
            return Parsed()  # a new one each time: Parsed is not frozen, so none is shared
        document = self._decode(payload)
        if received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=UTC)
        earliest, latest = self.limits.earliest(received_at), received_at + self._future_skew
        if address.kind is Kind.TELEM:
            readings = None if self._fast is None else self._fast.readings(address, document, earliest, latest)
            if readings is None:
                readings = self._readings(address, document, self._validation_limits(earliest, latest))
            return Parsed(readings=readings)
        limits = self._validation_limits(earliest, latest)
        if address.kind is Kind.EVENT:
            event = _validate(EventV1, document, limits, dotted)
            return Parsed(events=(_event(address, event),))
        ack = _validate(AckV1, document, limits, dotted)
        return Parsed(acks=(_ack(address, ack, received_at),))

    def _validation_limits(self, earliest: datetime, latest: datetime) -> ValidationLimits:
        return ValidationLimits(max_name_length=self.limits.max_name_length, earliest=earliest, latest=latest)

    def _address(self, topic: str) -> TopicAddress:
        """The address `topic` names (remembered), or DeadLetterError saying why it has none."""
        for template in self.templates:
            matched = template.match(topic, self.limits.max_name_length)
            if matched is None:
                continue
            if isinstance(matched, TopicAddress):
                if len(self._addresses) >= TOPIC_CACHE_SIZE:
                    self._addresses.clear()
                self._addresses[topic] = matched
                return matched
            raise DeadLetterError(matched, template.explain(topic, self.limits.max_name_length))
        problem = topic_problem(topic, self.limits.max_name_length)
        if problem:
            raise DeadLetterError(DeadLetterReason.HOSTILE_TOPIC, problem)
        layouts = ", ".join(template.spec for template in self.templates)
        raise DeadLetterError(DeadLetterReason.UNKNOWN_TOPIC, f"topic {shown(topic)} matches no template ({layouts})")

    def _decode(self, payload: bytes) -> Document:
        size = len(payload)
        if size > self.limits.max_payload_bytes:
            digest = hashlib.sha256(payload).hexdigest()
            raise DeadLetterError(
                DeadLetterReason.OVERSIZED,
                f"payload is {size} bytes; the limit is {self.limits.max_payload_bytes} (kept: its first "
                f"{OVERSIZED_KEPT_BYTES} bytes; sha256 {digest})",
                kept=bytes(payload[:OVERSIZED_KEPT_BYTES]),
            )
        if size == 0:
            raise DeadLetterError(DeadLetterReason.EMPTY_PAYLOAD, "payload is empty")
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            try:
                bytes(payload).decode("utf-8")
            except UnicodeDecodeError as bad:
                detail = f"payload is not UTF-8: byte {bad.start} is {payload[bad.start]:#04x}"
                raise DeadLetterError(DeadLetterReason.INVALID_UTF8, detail) from None
            detail = f"payload is not JSON: {storable(str(error))}"
            raise DeadLetterError(DeadLetterReason.INVALID_JSON, detail) from None
        if not isinstance(document, dict):
            raise DeadLetterError(
                DeadLetterReason.SCHEMA_VIOLATION, f"payload is a JSON {_json_type(document)}; expected an object"
            )
        return document

    def _readings(self, address: TopicAddress, document: Document, limits: ValidationLimits) -> tuple[Reading, ...]:
        adapter: TelemetryAdapter | None = adapter_for(document)
        if adapter is None:
            raise DeadLetterError(DeadLetterReason.SCHEMA_VIOLATION, "payload has no telemetry shape this writer knows")
        try:
            v1 = adapter.to_v1(document)
        except AdapterError as error:
            raise DeadLetterError(DeadLetterReason.SCHEMA_VIOLATION, str(error)) from None
        points = v1.get("points")
        if isinstance(points, list) and len(points) > self.limits.max_points:
            raise DeadLetterError(
                DeadLetterReason.OVERSIZED, f"{len(points)} points; the limit is {self.limits.max_points} per message"
            )
        message = _validate(TelemetryV1, v1, limits, partial(adapter.where, document))
        tenant, site, equipment = address.tenant, address.site, address.equipment
        readings = []
        for point in message.points:
            value, value_text = point.landed_value()
            readings.append(
                Reading(
                    tenant=tenant,
                    site=site,
                    equipment=equipment,
                    metric=point.name,
                    ts=point.ts or message.ts,
                    value=value,
                    value_text=value_text,
                    unit=point.u,
                    quality=point.q,
                )
            )
        days = len({reading.ts.toordinal() for reading in readings})
        if days > self.limits.max_days:
            raise DeadLetterError(
                DeadLetterReason.TOO_MANY_DAYS,
                f"its readings fall on {days} different days; the limit is {self.limits.max_days} per message",
            )
        return tuple(readings)


def _validate(model: type[Model], data: Document, limits: ValidationLimits, where: Callable[[Location], str]) -> Model:
    """The validated model, or DeadLetterError from its first error, located by `where` in the device's terms."""
    try:
        return model.model_validate(data, context=limits)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        reason = _REASONS_BY_ERROR_TYPE.get(first["type"], DeadLetterReason.SCHEMA_VIOLATION)
        location = tuple(first["loc"])
        message = first["msg"]
        detail = f"{where(location)}: {message}" if location else message
        raise DeadLetterError(reason, storable(detail)) from None


def _event(address: TopicAddress, event: EventV1) -> Event:
    return Event(
        ts=event.ts,
        tenant=address.tenant,
        site=address.site,
        equipment=address.equipment,
        type=event.type,
        severity=event.severity,
        data=event.data,
    )


def _ack(address: TopicAddress, ack: AckV1, received_at: datetime) -> CommandAck:
    return CommandAck(
        tenant=address.tenant,
        equipment=address.equipment,
        cmd_id=ack.cmd_id,
        status=ack.status,
        detail=ack.detail,
        ts=ack.ts or received_at.astimezone(UTC),
    )


def _dead_letter(topic: str, payload: bytes, reason: DeadLetterReason, detail: str) -> Parsed:
    letter = DeadLetter(topic=storable(topic), payload=payload, reason=reason, detail=storable(detail))
    return Parsed(dead_letter=letter)


def _json_type(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
