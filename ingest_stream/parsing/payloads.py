"""Payload v1 as pydantic models: the documented schema telemetry, event and ack messages must match.

Validation only: the models never read the topic, a clock or settings; the limits they enforce come
in through the validation context (`ValidationLimits`), so the same models serve DLQ replay.

Telemetry (`.../telem`)::

    {"schema": "v1", "ts": "2026-11-22T10:00:00Z", "meta": {},
     "points": [{"name": "temp_agua", "t": "float", "v": 7.3, "u": "°C", "q": "good"}]}

- `ts` (message) and `points[i].ts` (a point re-sent from a device's buffer): see timestamps.py.
  Every point needs one of the two; a point's own `ts` wins.
- `name`: a safe name (names.py). `t`: float | int | bool | string (aliases text, str); when it is
  absent the JSON type of `v` decides. `v`: number (finite), boolean, string, or null ("no value",
  usually sent with q bad). Booleans land as 0/1; strings land in value_text; `int` needs a whole number.
- `u`: unit label, optional. `q`: good | uncertain | bad (or 0 | 1 | 2, OPC UA severities), default good.
- One (name, time) appears at most once per message. Unknown fields are ignored (forward compatible).

Event (`.../event`): `{"schema": "v1", "ts": ..., "type": "alarm", "severity": "warning", "data": {...}}`
with `ts` and `type` required and `data` at most MAX_DATA_DEPTH levels deep. Ack (`.../ack`):
`{"schema": "v1", "cmd_id": "c-123", "status": "accepted|done|partial|error", "ts": ..., "detail": "..."}`
with `ts` optional (the parser then uses the time of receipt).

Text that reaches PostgreSQL must not contain NUL (text and jsonb cannot store it), so strings
with NUL are rejected everywhere, including inside event data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingest_stream.parsing.names import (
    DEFAULT_MAX_NAME_LENGTH,
    SAFE_NAME_PATTERN,
    is_safe_name,
    name_problem,
    shown,
)
from ingest_stream.parsing.timestamps import TimestampError, to_utc, window_problem
from ingest_stream.records import Quality

SCHEMA_V1 = "v1"

# Error types that map to a dead-letter reason other than schema_violation.
BAD_TIMESTAMP = "bad_timestamp"
UNSUPPORTED_SCHEMA = "unsupported_schema"

# Event data is stored as jsonb as it came; no device needs more levels than this.
MAX_DATA_DEPTH = 32

PointValue = bool | int | float | str | None
_SCALAR_TYPES = (bool, int, float, str, type(None))
POINT_TYPES = {"float": "float", "int": "int", "bool": "bool", "string": "string", "text": "string", "str": "string"}
QUALITY_NAMES = {"good": Quality.GOOD, "uncertain": Quality.UNCERTAIN, "bad": Quality.BAD}
QUALITY_NUMBERS = {int(q): q for q in Quality}
AckStatus = Literal["accepted", "done", "partial", "error"]


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    """What the models check beyond shape, passed as `model_validate(..., context=limits)`."""

    max_name_length: int = DEFAULT_MAX_NAME_LENGTH
    earliest: datetime | None = None
    latest: datetime | None = None


_NO_LIMITS = ValidationLimits()


def _limits(info: ValidationInfo) -> ValidationLimits:
    return info.context if isinstance(info.context, ValidationLimits) else _NO_LIMITS


def _invalid(message: str, error_type: str = "invalid_value") -> PydanticCustomError:
    # The message is passed as context, not as the template, so braces in device input stay literal.
    return PydanticCustomError(error_type, "{message}", {"message": message})


def _schema_version(value: object) -> str:
    if value != SCHEMA_V1:
        raise _invalid(f"{shown(value)} is not a supported schema (expected 'v1')", UNSUPPORTED_SCHEMA)
    return SCHEMA_V1


def _optional_timestamp(value: object, info: ValidationInfo) -> datetime | None:
    return None if value is None else _timestamp(value, info)


def _timestamp(value: object, info: ValidationInfo) -> datetime:
    try:
        moment = to_utc(value)
    except TimestampError as error:
        raise _invalid(str(error), BAD_TIMESTAMP) from None
    limits = _limits(info)
    if limits.earliest is not None and limits.latest is not None:
        problem = window_problem(moment, limits.earliest, limits.latest)
        if problem:
            raise _invalid(problem, BAD_TIMESTAMP)
    return moment


def _safe_name(value: object, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{shown(value)} is not a string")
    limit = _limits(info).max_name_length
    if not is_safe_name(value, limit):
        raise _invalid(name_problem(value, limit) or "is not a safe name")
    return value


def _text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{shown(value)} is not a string")
    if "\x00" in value:
        raise _invalid("contains a NUL character, which PostgreSQL text cannot store")
    return value


def _label(value: object, info: ValidationInfo) -> str | None:
    text = _text(value)
    if text is None:
        return None
    limit = _limits(info).max_name_length
    if len(text) > limit:
        raise _invalid(f"is {len(text)} characters long; the limit is {limit}")
    if not text.isprintable():
        raise _invalid(f"{shown(text)} contains a control character")
    return text


def _point_type(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in POINT_TYPES:
        return POINT_TYPES[value]
    raise _invalid(f"{shown(value)} is not a point type (float, int, bool, string)")


def _point_value(value: object, info: ValidationInfo) -> PointValue:
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise _invalid(f"is {value}; a numeric value must be finite")
    elif kind is str:
        _text(value)
    elif kind not in _SCALAR_TYPES:
        described = "an object" if kind is dict else "an array" if kind is list else shown(value)
        raise _invalid(f"is {described}; expected a number, boolean, string or null")
    point_type = info.data.get("t")
    if point_type is not None:
        typed_value(point_type, value)
    return value


def typed_value(point_type: str | None, value: PointValue) -> tuple[float | None, str | None]:
    """(value, value_text) a point lands as; raises PydanticCustomError when `value` does not fit `point_type`."""
    if value is None:
        return None, None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if point_type is None:
        point_type = "string" if isinstance(value, str) else "bool" if isinstance(value, bool) else "float"
    if point_type == "string":
        if isinstance(value, str):
            return None, value
    elif point_type == "bool":
        if isinstance(value, bool) or (is_number and value in (0, 1)):
            return float(value), None
    elif is_number and (point_type == "float" or float(value).is_integer()):
        try:
            return float(value), None
        except OverflowError:
            raise _invalid(f"{shown(value)} is too large for a double") from None
    raise _invalid(f"{shown(value)} is not a valid {point_type} value")


def _quality(value: object) -> Quality:
    kind = type(value)
    if kind is str:
        quality = QUALITY_NAMES.get(value.lower())
        if quality is not None:
            return quality
    elif kind is int and value in QUALITY_NUMBERS:
        return QUALITY_NUMBERS[value]
    raise _invalid(f"{shown(value)} is not a quality (good, uncertain, bad or 0, 1, 2)")


def _event_data(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{shown(value)} is not a JSON object")
    problem = _data_problem(value)
    if problem:
        raise _invalid(problem)
    return value


def _data_problem(data: dict[str, Any]) -> str | None:
    """Why event data cannot be stored, or None. Walked with an explicit stack, not recursion: JSON
    nested a few hundred levels deep (orjson reads up to 1,024) would exhaust Python's recursion limit
    here and again when the writer serialises it for jsonb."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "contains a NUL character, which PostgreSQL jsonb cannot store"
        elif isinstance(value, dict | list):
            if depth > MAX_DATA_DEPTH:
                return f"is nested more than {MAX_DATA_DEPTH} levels deep"
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
            if isinstance(value, dict) and any("\x00" in key for key in value):
                return "contains a NUL character, which PostgreSQL jsonb cannot store"
    return None


# json_schema_input_type makes `model_json_schema()` show what devices may send, not just "any".
_Name = Annotated[str, StringConstraints(pattern=SAFE_NAME_PATTERN)]
_TimestampInput = Annotated[str, Field(description="ISO 8601 with Z or an offset")] | int | float
SchemaVersion = Annotated[str, PlainValidator(_schema_version, json_schema_input_type=Literal["v1"])]
Timestamp = Annotated[datetime, PlainValidator(_timestamp, json_schema_input_type=_TimestampInput)]
OptionalTimestamp = Annotated[
    datetime | None, PlainValidator(_optional_timestamp, json_schema_input_type=_TimestampInput | None)
]
SafeName = Annotated[str, PlainValidator(_safe_name, json_schema_input_type=_Name)]
Label = Annotated[str | None, PlainValidator(_label, json_schema_input_type=str | None)]
Text = Annotated[str | None, PlainValidator(_text, json_schema_input_type=str | None)]
PointType = Annotated[
    Literal["float", "int", "bool", "string"] | None,
    PlainValidator(_point_type, json_schema_input_type=Literal["float", "int", "bool", "string", "text", "str"] | None),
]
Value = Annotated[PointValue, PlainValidator(_point_value, json_schema_input_type=PointValue)]
QualityFlag = Annotated[
    Quality,
    PlainValidator(_quality, json_schema_input_type=Literal["good", "uncertain", "bad", 0, 1, 2]),
]
EventData = Annotated[dict[str, Any], PlainValidator(_event_data, json_schema_input_type=dict[str, Any])]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    schema_version: SchemaVersion = Field(alias="schema")


class PointV1(BaseModel):
    """One reading. Field order matters: `t` is validated before `v`, which is checked against it."""

    model_config = ConfigDict(frozen=True)

    name: SafeName
    t: PointType = None
    v: Value
    u: Label = None
    q: QualityFlag = Quality.GOOD
    ts: OptionalTimestamp = None

    def landed_value(self) -> tuple[float | None, str | None]:
        return typed_value(self.t, self.v)


class TelemetryV1(_Payload):
    ts: OptionalTimestamp = None
    points: Annotated[list[PointV1], Field(min_length=1)]
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _each_point_has_one_time(self) -> TelemetryV1:
        seen: set[tuple[str, datetime]] = set()
        for index, point in enumerate(self.points):
            moment = point.ts or self.ts
            if moment is None:
                raise PydanticCustomError(
                    "missing_timestamp", "points[{index}] has no ts and the message has no ts", {"index": index}
                )
            key = (point.name, moment)
            if key in seen:
                raise PydanticCustomError(
                    "duplicate_point",
                    "points[{index}] repeats {name} at {ts} in the same message",
                    {"index": index, "name": point.name, "ts": moment.isoformat()},
                )
            seen.add(key)
        return self


class EventV1(_Payload):
    ts: Timestamp
    type: SafeName
    severity: Label = None
    data: EventData = Field(default_factory=dict)


class AckV1(_Payload):
    cmd_id: SafeName
    status: AckStatus
    ts: OptionalTimestamp = None
    detail: Text = None
