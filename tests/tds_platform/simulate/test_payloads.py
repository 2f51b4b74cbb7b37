from __future__ import annotations

import orjson
import pytest

from tds_platform.simulate import payloads
from tds_platform.simulate.faults import Malformation
from tds_platform.simulate.fleet import CHILLER
from tds_platform.simulate.payloads import Point

T = 1_795_860_000.0  # 2026-11-28T10:00:00Z
TEMP, RUNNING = CHILLER.metric("temp_agua_saida"), CHILLER.metric("running")


def test_telemetry_is_payload_v1_byte_for_byte() -> None:
    body = payloads.telemetry(T, [Point(T, TEMP, 7.3), Point(T, RUNNING, True, "bad")])
    assert body == (
        b'{"schema":"v1","ts":"2026-11-28T10:00:00Z","points":['
        b'{"name":"temp_agua_saida","t":"float","v":7.3,"u":"\xc2\xb0C","q":"good"},'
        b'{"name":"running","t":"bool","v":true,"q":"bad"}],"meta":{}}'
    )


def test_resent_points_carry_their_own_timestamp() -> None:
    body = orjson.loads(payloads.telemetry(T + 60, [Point(T, TEMP, 7.3)], meta={"resend": "c1"}, point_ts=True))
    assert body["ts"] == "2026-11-28T10:01:00Z"
    assert body["points"][0]["ts"] == "2026-11-28T10:00:00Z"
    assert body["meta"] == {"resend": "c1"}


def test_iso_shows_milliseconds_only_when_present() -> None:
    assert payloads.iso(T) == "2026-11-28T10:00:00Z"
    assert payloads.iso(T + 0.25) == "2026-11-28T10:00:00.250Z"


def test_ack() -> None:
    assert orjson.loads(payloads.ack("c1", "done", T, "3 readings resent")) == {
        "schema": "v1", "cmd_id": "c1", "status": "done", "ts": "2026-11-28T10:00:00Z", "detail": "3 readings resent",
    }
    assert "detail" not in orjson.loads(payloads.ack("c1", "accepted", T))


GOOD = payloads.telemetry(T, [Point(T, TEMP, 7.3)])


def test_invalid_json_does_not_parse() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(payloads.malformed(Malformation.INVALID_JSON, GOOD, 1, "k"))


def test_bad_schema_is_json_without_point_names() -> None:
    body = orjson.loads(payloads.malformed(Malformation.BAD_SCHEMA, GOOD, 1, "k"))
    assert body["schema"] == "v1"
    assert all("name" not in p for p in body["points"])


def test_garbage_is_not_even_utf8_and_is_deterministic() -> None:
    garbage = payloads.malformed(Malformation.GARBAGE, GOOD, 1, "k")
    with pytest.raises(UnicodeDecodeError):
        garbage.decode()
    assert garbage == payloads.malformed(Malformation.GARBAGE, GOOD, 1, "k")
    assert garbage != payloads.malformed(Malformation.GARBAGE, GOOD, 1, "other")
