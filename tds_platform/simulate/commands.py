"""How a simulated device answers commands from the platform (the resend protocol, a contract).

It turns one command message into the messages the device sends back; it must never publish
them itself, so the protocol is tested without a broker.

Resend protocol (gap backfill relies on it; change it only together with the backfill job):

- Command, published by the platform (`tds-platform` MQTT account) to
  `tds/{tenant}/{site}/{equipment}/cmd`:
  `{"schema":"v1","cmd_id":"<id>","cmd":"resend","args":{"from":"<ISO8601>","to":"<ISO8601>"},"ts":"<ISO8601>"}`
  with optional `"metrics": ["name", ...]` in `args` (default: every metric of the equipment).
  Timestamps without an offset are read as UTC.
- Answers, all on `tds/{tenant}/{site}/{equipment}/...`, in this order, QoS 1:
  1. `ack`: `{"schema":"v1","cmd_id":"<id>","status":"accepted","ts":"<device now>"}`
  2. `telem`: the buffered readings with `from <= ts < to`, oldest first, as payload v1 messages of
     at most 100 points, each point carrying its own `ts`; `meta` is `{"resend":"<id>"}`.
     Readings are resent as the device recorded them (its clock, its quality flags), including
     those a gap kept it from publishing. A window with no readings sends no `telem` message.
  3. `ack`: `"status":"done"` with `"detail":"<n> readings resent"`, or `"status":"partial"`
     (same detail plus what the buffer covers) when the buffer does not cover all of
     [from, to): older readings were evicted (the buffer keeps 24 h by default), the simulator
     started after `from`, or `to` is after the device's current time.
- An unknown command or invalid args (missing/unparsable `from`/`to`, `from >= to`, an unknown
  metric) get a single `ack` with `"status":"error"` and a one-sentence `"detail"`, and nothing else.
- A command that is not JSON or has no string `cmd_id` cannot be acknowledged and is ignored.
- Devices answer commands even while a gap fault keeps their telemetry silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from tds_platform.simulate import payloads
from tds_platform.simulate.buffer import DeviceBuffer
from tds_platform.simulate.fleet import Device
from tds_platform.time_windows import parse_instant

RESEND_BATCH_POINTS = 100


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish, with the tenant whose MQTT connection must carry it."""

    tenant: str
    topic: str
    payload: bytes


class InvalidCommandError(ValueError):
    """A command the device understood enough to acknowledge with an error."""


def _instant(value: object, name: str) -> float:
    if not isinstance(value, str):
        raise InvalidCommandError(f"args.{name} must be an ISO 8601 timestamp string")
    try:
        return parse_instant(value, f"args.{name}").timestamp()
    except ValueError as error:
        raise InvalidCommandError(str(error)) from None


def resend_window(device: Device, args: object) -> tuple[float, float, frozenset[str] | None]:
    if not isinstance(args, dict):
        raise InvalidCommandError("args must be an object with from and to")
    start, end = _instant(args.get("from"), "from"), _instant(args.get("to"), "to")
    if start >= end:
        raise InvalidCommandError("args.from must be before args.to")
    metrics = args.get("metrics")
    if metrics is None:
        return start, end, None
    known = {m.name for m in device.kind.metrics}
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise InvalidCommandError("args.metrics must be a list of metric names")
    if unknown := sorted(set(metrics) - known):
        raise InvalidCommandError(f"unknown metrics for {device.equipment}: {', '.join(unknown)}")
    return start, end, frozenset(metrics)


def answer(device: Device, buffer: DeviceBuffer, payload: bytes, now: float) -> list[Outgoing]:
    """Everything the device sends back for one command message, in publishing order."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    cmd_id = body.get("cmd_id") if isinstance(body, dict) else None
    if not isinstance(cmd_id, str) or not cmd_id:
        return []

    def ack(status: str, detail: str | None = None) -> Outgoing:
        return Outgoing(device.tenant, device.topic("ack"), payloads.ack(cmd_id, status, now, detail))

    if body.get("cmd") != "resend":
        return [ack("error", f"unknown command {body.get('cmd')!r}; this device knows: resend")]
    try:
        start, end, metrics = resend_window(device, body.get("args"))
    except InvalidCommandError as exc:
        return [ack("error", str(exc))]
    points = buffer.between(start, end, metrics)
    out = [ack("accepted")]
    for i in range(0, len(points), RESEND_BATCH_POINTS):
        batch = payloads.telemetry(now, points[i : i + RESEND_BATCH_POINTS], meta={"resend": cmd_id}, point_ts=True)
        out.append(Outgoing(device.tenant, device.topic("telem"), batch))
    detail = f"{len(points)} readings resent"
    if buffer.covers(start, end, now):
        out.append(ack("done", detail))
    else:
        covered = f"buffer covers {payloads.iso(buffer.covers_from)} to {payloads.iso(now)}"
        out.append(ack("partial", f"{detail}; {covered}"))
    return out
