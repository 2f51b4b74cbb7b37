from __future__ import annotations

import orjson
import pytest

from tds_platform.simulate.buffer import DeviceBuffer
from tds_platform.simulate.commands import RESEND_BATCH_POINTS, answer
from tds_platform.simulate.fleet import METER, Device

T0 = 1_795_860_000.0  # 2026-11-28T10:00:00Z
DEVICE = Device("acme", "site-1", "s1-meter-01", METER, 10, 0)
NOW = T0 + 3600


@pytest.fixture
def buffer() -> DeviceBuffer:
    buffer = DeviceBuffer(METER, 86400, started_at=T0)
    for i in range(360):  # one hour at 10 s: 360 power readings + 60 energy readings
        buffer.add(T0 + 10 * i, {"potencia_kw": 50.0 + i} | ({"energia_kwh": 1e4 + i} if i % 6 == 0 else {}), {})
    return buffer


def command(args: object, cmd: str = "resend", cmd_id: object = "c-1") -> bytes:
    return orjson.dumps({"schema": "v1", "cmd_id": cmd_id, "cmd": cmd, "args": args, "ts": "2026-11-28T11:00:00Z"})


def decoded(messages) -> list[tuple[str, dict]]:
    return [(m.topic.rsplit("/", 1)[1], orjson.loads(m.payload)) for m in messages]


def test_resend_answers_accepted_then_readings_then_done(buffer: DeviceBuffer) -> None:
    out = decoded(answer(DEVICE, buffer, command({"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:30:00Z"}), NOW))
    kinds = [kind for kind, _ in out]
    assert kinds == ["ack", "telem", "telem", "telem", "ack"]  # 210 points: 100 + 100 + 10
    assert out[0][1] == {"schema": "v1", "cmd_id": "c-1", "status": "accepted", "ts": "2026-11-28T11:00:00Z"}
    points = [p for _, body in out[1:-1] for p in body["points"]]
    assert len(points) == 180 + 30
    assert all(len(body["points"]) <= RESEND_BATCH_POINTS for _, body in out[1:-1])
    assert points[0] == {"name": "energia_kwh", "ts": "2026-11-28T10:00:00Z", "t": "float", "v": 10000.0,
                         "u": "kWh", "q": "good"}
    assert points[-1]["ts"] == "2026-11-28T10:29:50Z"
    assert out[-1][1]["status"] == "done"
    assert out[-1][1]["detail"] == "210 readings resent"
    assert all(m.tenant == "acme" for m in answer(DEVICE, buffer, command({"from": "2026-11-28T10:00:00Z",
                                                                            "to": "2026-11-28T10:01:00Z"}), NOW))


def test_metrics_filter_and_naive_timestamps_are_utc(buffer: DeviceBuffer) -> None:
    args = {"from": "2026-11-28T10:00:00", "to": "2026-11-28T10:01:00", "metrics": ["energia_kwh"]}
    out = decoded(answer(DEVICE, buffer, command(args), NOW))
    assert [p["name"] for p in out[1][1]["points"]] == ["energia_kwh"]
    assert out[-1][1]["detail"] == "1 readings resent"


def test_window_before_the_buffer_is_partial(buffer: DeviceBuffer) -> None:
    out = decoded(answer(DEVICE, buffer, command({"from": "2026-11-28T09:00:00Z", "to": "2026-11-28T10:00:30Z"}), NOW))
    assert out[-1][1]["status"] == "partial"
    assert out[-1][1]["detail"].startswith("4 readings resent; buffer covers 2026-11-28T10:00:00Z")


def test_empty_window_is_done_with_no_telemetry(buffer: DeviceBuffer) -> None:
    out = decoded(answer(DEVICE, buffer, command({"from": "2026-11-28T10:00:01Z", "to": "2026-11-28T10:00:05Z"}), NOW))
    assert [(k, b["status"]) for k, b in out] == [("ack", "accepted"), ("ack", "done")]


@pytest.mark.parametrize(("args", "cmd", "detail"), [
    ({"from": "2026-11-28T10:00:00Z", "to": "x"}, "resend", "args.to 'x' is not an ISO 8601 time"),
    ({"to": "2026-11-28T10:00:00Z"}, "resend", "args.from must be an ISO 8601 timestamp"),
    ({"from": "2026-11-28T11:00:00Z", "to": "2026-11-28T10:00:00Z"}, "resend", "args.from must be before"),
    ({"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T11:00:00Z", "metrics": ["rpm"]}, "resend", "unknown metrics"),
    ("not-an-object", "resend", "args must be an object"),
    ({}, "reboot", "unknown command 'reboot'"),
])
def test_invalid_commands_get_one_error_ack(buffer: DeviceBuffer, args: object, cmd: str, detail: str) -> None:
    out = decoded(answer(DEVICE, buffer, command(args, cmd), NOW))
    assert len(out) == 1
    kind, body = out[0]
    assert (kind, body["status"], body["cmd_id"]) == ("ack", "error", "c-1")
    assert body["detail"].startswith(detail)


@pytest.mark.parametrize("payload", [b"{not json", b"[]", command({}, cmd_id=None), command({}, cmd_id=5)])
def test_commands_without_an_id_cannot_be_acknowledged(buffer: DeviceBuffer, payload: bytes) -> None:
    assert answer(DEVICE, buffer, payload, NOW) == []
