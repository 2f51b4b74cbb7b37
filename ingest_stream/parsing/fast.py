"""The hot path for telemetry: valid v1 and flat payloads straight to readings, without pydantic.

It must never reject a message nor land one differently from the payload models (payloads.py): whatever
it is not sure of gives None, and the parser then asks the models, which stay the documented schema and
decide the dead letter. Every check below mirrors a validator there; the differential test holds them equal.
"""

from __future__ import annotations

from datetime import datetime
from math import isfinite

from ingest_stream.parsing.adapters import Document, FlatReadings
from ingest_stream.parsing.names import is_safe_name
from ingest_stream.parsing.payloads import POINT_TYPES, QUALITY_NAMES, QUALITY_NUMBERS, SCHEMA_V1, typed_value
from ingest_stream.parsing.timestamps import TimestampError, to_utc
from ingest_stream.records import Quality, Reading, TopicAddress

Landed = tuple[float | None, str | None]
# Many points and messages share one timestamp string, and a fleet has few metric names: both are
# remembered (bounded) so the common case is a dict lookup instead of fromisoformat or a regex.
TIMESTAMP_CACHE_SIZE = 4096
NAME_CACHE_SIZE = 4096
_FLAT_TIME_KEY = FlatReadings.TIME_KEY


class FastTelemetry:
    """Readings for one telemetry document, or None when the payload models must decide."""

    __slots__ = ("_known_names", "_max_days", "_max_name_length", "_max_points", "_moments")

    def __init__(self, max_name_length: int, max_points: int, max_days: int) -> None:
        self._max_name_length = max_name_length
        self._max_points = max_points
        self._max_days = max_days
        self._known_names: set[str] = set()
        self._moments: dict[str, datetime] = {}

    def readings(self, address: TopicAddress, document: Document, earliest: datetime,
                 latest: datetime) -> tuple[Reading, ...] | None:
        """The readings the models would produce for `document` (adapters.adapter_for's choice of shape),
        each timed inside [earliest, latest]."""
        if "schema" in document or "points" in document:
            return self._v1(address, document, earliest, latest)
        return self._flat(address, document, earliest, latest)

    def _v1(self, address: TopicAddress, document: Document, earliest: datetime,
            latest: datetime) -> tuple[Reading, ...] | None:
        points = document.get("points")
        if (
            document.get("schema") != SCHEMA_V1  # the model also reads "schema_version" when "schema" is absent
            or type(points) is not list
            or not points
            or len(points) > self._max_points
            or ("meta" in document and type(document["meta"]) is not dict)
        ):
            return None
        stamp = document.get("ts")
        message_ts = None if stamp is None else self._moment(stamp, earliest, latest)
        if stamp is not None and message_ts is None:
            return None
        tenant, site, equipment = address.tenant, address.site, address.equipment
        readings = []
        own_times = False
        for point in points:
            if type(point) is not dict or "v" not in point:
                return None
            name = point.get("name")
            if type(name) is not str or (name not in self._known_names and not self._learn_name(name)):
                return None
            landed = _landed(point.get("t"), point["v"])
            unit = point.get("u")
            quality = _quality(point.get("q", "good"))
            if landed is None or quality is None or (unit is not None and not self._is_label(unit)):
                return None
            stamp = point.get("ts")
            if stamp is None:
                moment = message_ts
            else:
                moment = self._moment(stamp, earliest, latest)
                own_times = True
            if moment is None:
                return None
            readings.append(Reading(tenant, site, equipment, name, moment, landed[0], landed[1], unit, quality))
        if own_times:
            # Only points with their own times can spread a message over several days (chunks).
            if len({(reading.metric, reading.ts) for reading in readings}) != len(readings):
                return None
            if len({reading.ts.toordinal() for reading in readings}) > self._max_days:
                return None
        elif len({reading.metric for reading in readings}) != len(readings):
            return None
        return tuple(readings)

    def _flat(self, address: TopicAddress, document: Document, earliest: datetime,
              latest: datetime) -> tuple[Reading, ...] | None:
        if _FLAT_TIME_KEY not in document or not 1 < len(document) <= self._max_points + 1:
            return None
        moment = self._moment(document[_FLAT_TIME_KEY], earliest, latest)
        if moment is None:
            return None
        tenant, site, equipment = address.tenant, address.site, address.equipment
        readings = []
        for name, value in document.items():
            if name == _FLAT_TIME_KEY:
                continue
            if name not in self._known_names and not self._learn_name(name):
                return None
            landed = _landed(None, value)
            if landed is None:
                return None
            readings.append(Reading(tenant, site, equipment, name, moment, landed[0], landed[1], None, Quality.GOOD))
        return tuple(readings)

    def _moment(self, stamp: object, earliest: datetime, latest: datetime) -> datetime | None:
        """payloads._timestamp: the UTC time of a str or number, inside [earliest, latest]; else None.

        Only strings are remembered: as dict keys 1, 1.0 and True would share one entry."""
        kind = type(stamp)
        moment = self._moments.get(stamp) if kind is str else None  # type: ignore[call-overload]
        if moment is None:
            try:
                moment = to_utc(stamp)
            except TimestampError:
                return None
            if kind is str:
                if len(self._moments) >= TIMESTAMP_CACHE_SIZE:
                    self._moments.clear()
                self._moments[stamp] = moment  # type: ignore[index]
        return moment if earliest <= moment <= latest else None

    def _learn_name(self, name: str) -> bool:
        """payloads._safe_name; a safe name is remembered so the next message skips the regex."""
        if not is_safe_name(name, self._max_name_length):
            return False
        if len(self._known_names) >= NAME_CACHE_SIZE:
            self._known_names.clear()
        self._known_names.add(name)
        return True

    def _is_label(self, unit: object) -> bool:
        """payloads._label for a value that is not None (NUL is not printable, so isprintable refuses it too)."""
        return type(unit) is str and len(unit) <= self._max_name_length and unit.isprintable()


def _landed(point_type: object, value: object) -> Landed | None:
    """(value, value_text) as payloads._point_type, _point_value and typed_value decide it, or None."""
    kind = type(value)
    if kind is float and (point_type is None or point_type == "float"):  # the common case, as typed_value has it
        return (value, None) if isfinite(value) else None  # type: ignore[arg-type]
    if point_type is not None:
        point_type = POINT_TYPES.get(point_type) if type(point_type) is str else None
        if point_type is None:
            return None
    if kind is str and "\x00" in value:  # type: ignore[operator]
        return None
    try:  # typed_value also refuses what _point_value does: objects, arrays and non-finite numbers
        return typed_value(point_type, value)  # type: ignore[arg-type]
    except (ValueError, ArithmeticError):  # includes PydanticCustomError: a value that does not fit its type
        return None


def _quality(flag: object) -> Quality | None:
    """payloads._quality, or None."""
    kind = type(flag)
    if kind is str:
        quality = QUALITY_NAMES.get(flag)  # type: ignore[call-overload]
        return quality if quality is not None else QUALITY_NAMES.get(flag.lower())  # type: ignore[union-attr]
    if kind is int:
        return QUALITY_NUMBERS.get(flag)  # type: ignore[arg-type]
    return None
