"""The exact bytes devices send: payload v1 telemetry, command acks, and deliberately broken messages.

Encoding is deterministic (fixed key order, fixed timestamp format) so a seed reproduces payloads
byte for byte; this module must never decide faults or touch the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from tds_platform.simulate.faults import Malformation
from tds_platform.simulate.fleet import MetricProfile, ValueType
from tds_platform.simulate.randomness import random_bytes

SCHEMA = "v1"


@dataclass(frozen=True, slots=True)
class Point:
    """One reading as a device holds it: the timestamp its own clock wrote, value and quality."""

    ts: float
    metric: MetricProfile
    value: float | bool
    quality: str = "good"


def iso(ts: float) -> str:
    """UTC ISO 8601 with a Z; milliseconds only when the instant has them."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_point(point: Point, with_ts: bool) -> dict[str, object]:
    body: dict[str, object] = {"name": point.metric.name}
    if with_ts:
        body["ts"] = iso(point.ts)
    body["t"] = point.metric.type.value
    body["v"] = bool(point.value) if point.metric.type is ValueType.BOOL else point.value
    if point.metric.unit:
        body["u"] = point.metric.unit
    body["q"] = point.quality
    return body


def telemetry(ts: float, points: list[Point], meta: dict[str, object] | None = None, point_ts: bool = False) -> bytes:
    """A payload v1 message; with point_ts (resent history) every point carries its own `ts`."""
    return orjson.dumps({
        "schema": SCHEMA,
        "ts": iso(ts),
        "points": [encode_point(p, with_ts=point_ts) for p in points],
        "meta": meta or {},
    })


def ack(cmd_id: str, status: str, ts: float, detail: str | None = None) -> bytes:
    body: dict[str, object] = {"schema": SCHEMA, "cmd_id": cmd_id, "status": status, "ts": iso(ts)}
    if detail is not None:
        body["detail"] = detail
    return orjson.dumps(body)


def malformed(kind: Malformation, good: bytes, seed: int, *key: object) -> bytes:
    """A broken version of a message, the way real devices and gateways break them."""
    if kind is Malformation.INVALID_JSON:
        return good[: len(good) // 2]  # truncated mid-message, as a dropped connection leaves it
    if kind is Malformation.BAD_SCHEMA:
        body = orjson.loads(good)
        body["points"] = [{"value": p["v"], "unit": p.get("u")} for p in body["points"]]  # no names, wrong keys
        return orjson.dumps(body)
    return b"\xff\xfe" + random_bytes(seed, "garbage", *key)  # not UTF-8 at all
