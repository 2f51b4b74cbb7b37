"""Telemetry shapes devices send, each turned into a payload v1 document before validation.

Adapters only reshape decoded JSON; they never validate values, read the clock or drop a field
silently (anything they cannot carry over must fail validation, so the message is dead-lettered).

To support another vendor: write a class with `accepts`, `to_v1` and `where`, and add an instance
to TELEMETRY_ADAPTERS ahead of the flat form (the first adapter that accepts a document wins).
"""

from __future__ import annotations

from typing import Any, Protocol

from ingest_stream.parsing.names import shown

Document = dict[str, Any]
Location = tuple[int | str, ...]


class AdapterError(ValueError):
    """A document an adapter recognises but cannot reshape; the message is one sentence."""


def dotted(location: Location) -> str:
    """("points", 3, "v") -> "points[3].v": a field as a reader of the v1 payload would name it."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "payload"


class TelemetryAdapter(Protocol):
    name: str

    def accepts(self, document: Document) -> bool:
        """True when `document` has this adapter's shape."""
        ...

    def to_v1(self, document: Document) -> Document:
        """The same readings as a payload v1 document (not validated yet)."""
        ...

    def where(self, document: Document, location: Location) -> str:
        """A v1 validation error's location, named as the device's own payload names it."""
        ...


class PayloadV1:
    """The platform's own shape: anything that says which schema it is, or carries `points`."""

    name = "v1"

    def accepts(self, document: Document) -> bool:
        return "schema" in document or "points" in document

    def to_v1(self, document: Document) -> Document:
        return document

    def where(self, document: Document, location: Location) -> str:
        return dotted(location)


class FlatReadings:
    """`{"ts": ..., "temp": 21.5, "hum": 40, "running": true}`: one reading per key except `ts`.

    Values keep their JSON type (number, boolean, string, null); units and quality are not part
    of this form, so readings land without a unit and with quality good.
    """

    name = "flat"
    TIME_KEY = "ts"

    def accepts(self, document: Document) -> bool:
        return "schema" not in document and "points" not in document

    def to_v1(self, document: Document) -> Document:
        if self.TIME_KEY not in document:
            raise AdapterError(f"{self.TIME_KEY} is missing: the flat form needs the time of its readings")
        points = [{"name": key, "v": value} for key, value in document.items() if key != self.TIME_KEY]
        if not points:
            raise AdapterError(f"the flat form has no readings besides {self.TIME_KEY}")
        return {"schema": "v1", "ts": document[self.TIME_KEY], "points": points}

    def where(self, document: Document, location: Location) -> str:
        if len(location) >= 2 and location[0] == "points" and isinstance(location[1], int):
            keys = [key for key in document if key != self.TIME_KEY]
            key = shown(keys[location[1]]) if location[1] < len(keys) else "?"
            return f"key {key}" if location[2:] == ("name",) else f"{key} (value)"
        return dotted(location)


TELEMETRY_ADAPTERS: tuple[TelemetryAdapter, ...] = (PayloadV1(), FlatReadings())


def adapter_for(document: Document) -> TelemetryAdapter | None:
    """The first registered adapter that accepts `document`, or None."""
    for adapter in TELEMETRY_ADAPTERS:
        if adapter.accepts(document):
            return adapter
    return None
