"""MessageParser: good messages of every kind, adapter and template land exactly; everything else is one
dead letter holding the original bytes (an oversized payload: its size, hash and a prefix), with the
right reason."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from ingest_stream.parsing import DEFAULT_TOPIC_TEMPLATE, MessageParser, ParserLimits, parse_templates
from ingest_stream.parsing.parser import OVERSIZED_KEPT_BYTES
from ingest_stream.parsing.payloads import MAX_DATA_DEPTH
from ingest_stream.records import CommandAck, DeadLetterReason, Event, Parsed, Quality, Reading

R = DeadLetterReason
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
TELEM = "tds/acme/plant-1/chiller-01/telem"
EVENT = "tds/acme/plant-1/chiller-01/event"
ACK = "tds/acme/plant-1/chiller-01/ack"
CMD = "tds/acme/plant-1/chiller-01/cmd"
LEGACY_TOPIC = "equipamentos/bomba-7/dados"
TEMPLATES = f"{DEFAULT_TOPIC_TEMPLATE},equipamentos/{{equipment}}/dados;tenant=legacy;kind=telem"
PARSER = MessageParser(parse_templates(TEMPLATES))


def js(document: Any) -> bytes:
    return orjson.dumps(document)


def v1(*points: dict[str, Any], **fields: Any) -> bytes:
    return js({"schema": "v1", "ts": "2026-11-22T10:00:00Z", "points": list(points), **fields})


def point(**fields: Any) -> dict[str, Any]:
    return {"name": "temp_agua", "v": 7.3, **fields}


def reading(
    metric: str = "temp_agua", value: float | None = None, value_text: str | None = None, **fields: Any
) -> Reading:
    base = Reading(tenant="acme", site="plant-1", equipment="chiller-01", metric=metric, ts=T0, value=value,
                   value_text=value_text, unit=None, quality=Quality.GOOD)
    return replace(base, **fields)


def test_design_example_lands_exactly() -> None:
    payload = ('{"schema":"v1","ts":"2026-11-22T10:00:00Z","points":[{"name":"temp_agua","t":"float",'
               '"v":7.3,"u":"°C","q":"good"}],"meta":{}}').encode()
    parsed = PARSER.parse(TELEM, payload, RECEIVED)
    assert parsed == Parsed(readings=(
        Reading(tenant="acme", site="plant-1", equipment="chiller-01", metric="temp_agua",
                ts=datetime(2026, 11, 22, 10, 0, tzinfo=UTC), value=7.3, value_text=None, unit="°C",
                quality=Quality.GOOD),
    ))
    assert parsed.readings[0].ts.tzinfo is UTC
    assert type(parsed.readings[0].value) is float


GOOD_TELEMETRY = [
    pytest.param(TELEM, v1(point(t="int", v=7)), (reading(value=7.0),), id="int"),
    pytest.param(TELEM, v1(point(t="int", v=7.0)), (reading(value=7.0),), id="int-written-as-whole-float"),
    pytest.param(TELEM, v1(point(v=-0.5)), (reading(value=-0.5),), id="float-inferred"),
    pytest.param(TELEM, v1(point(v=12)), (reading(value=12.0),), id="int-inferred"),
    pytest.param(TELEM, v1(point(v=2**63)), (reading(value=float(2**63)),), id="huge-int"),
    pytest.param(TELEM, v1(point(t="bool", v=True)), (reading(value=1.0),), id="bool-true"),
    pytest.param(TELEM, v1(point(t="bool", v=False)), (reading(value=0.0),), id="bool-false"),
    pytest.param(TELEM, v1(point(t="bool", v=1)), (reading(value=1.0),), id="bool-as-1"),
    pytest.param(TELEM, v1(point(v=False)), (reading(value=0.0),), id="bool-inferred"),
    pytest.param(TELEM, v1(point(t="string", v="auto")), (reading(value_text="auto"),), id="string"),
    pytest.param(TELEM, v1(point(t="text", v="a\nb")), (reading(value_text="a\nb"),), id="text-alias"),
    pytest.param(TELEM, v1(point(t="str", v="")), (reading(value_text=""),), id="str-alias-empty"),
    pytest.param(TELEM, v1(point(v="ligado")), (reading(value_text="ligado"),), id="string-inferred"),
    pytest.param(TELEM, v1(point(v=None, q="bad")), (reading(quality=Quality.BAD),), id="null-value"),
    pytest.param(TELEM, v1(point(t="float", v=None)), (reading(),), id="null-value-typed"),
    pytest.param(TELEM, v1(point(q="uncertain")), (reading(value=7.3, quality=Quality.UNCERTAIN),), id="q-uncertain"),
    pytest.param(TELEM, v1(point(q="BAD")), (reading(value=7.3, quality=Quality.BAD),), id="q-any-case"),
    pytest.param(TELEM, v1(point(q=0)), (reading(value=7.3),), id="q-0"),
    pytest.param(TELEM, v1(point(q=1)), (reading(value=7.3, quality=Quality.UNCERTAIN),), id="q-1"),
    pytest.param(TELEM, v1(point(q=2)), (reading(value=7.3, quality=Quality.BAD),), id="q-2"),
    pytest.param(TELEM, v1(point(u="m³/h")), (reading(value=7.3, unit="m³/h"),), id="unit"),
    pytest.param(TELEM, v1(point(u=None)), (reading(value=7.3),), id="unit-null"),
    pytest.param(TELEM, v1(point(ts="2026-11-22T09:00:00Z")), (reading(value=7.3, ts=T0 - timedelta(hours=1)),),
                 id="point-ts-wins"),
    pytest.param(TELEM, js({"schema": "v1", "points": [point(ts=1795341600), point(name="b", ts=1795341600000)]}),
                 (reading(value=7.3), reading("b", value=7.3)), id="only-point-ts-epoch-s-and-ms"),
    pytest.param(TELEM, v1(point(), ts="2026-11-22T07:00:00-03:00"), (reading(value=7.3),), id="offset-normalised"),
    pytest.param(TELEM, v1(point(), ts=1795341600.5), (reading(value=7.3, ts=T0.replace(microsecond=500000)),),
                 id="epoch-float"),
    pytest.param(TELEM, v1(point(), point(ts="2026-11-22T09:59:00Z")),
                 (reading(value=7.3), reading(value=7.3, ts=T0 - timedelta(minutes=1))), id="same-name-other-time"),
    pytest.param(TELEM, v1(point(extra=1), meta={"fw": "1.2", "n": [1]}, vendor="x"), (reading(value=7.3),),
                 id="unknown-fields-ignored"),
    pytest.param(TELEM, v1(point(), ts="2000-01-01T00:00:00Z"),
                 (reading(value=7.3, ts=datetime(2000, 1, 1, tzinfo=UTC)),), id="earliest-edge"),
    pytest.param(TELEM, v1(point(), ts="2026-11-22T11:30:00Z"),
                 (reading(value=7.3, ts=RECEIVED + timedelta(hours=1)),), id="future-skew-edge"),
    pytest.param(TELEM, v1(point(name="a.b:c@d_e-F9")), (reading("a.b:c@d_e-F9", value=7.3),), id="every-safe-char"),
    pytest.param(TELEM, v1(point(name="n" * 128)), (reading("n" * 128, value=7.3),), id="name-at-length-limit"),
    pytest.param(TELEM, js({"ts": "2026-11-22T10:00:00Z", "temp": 21.5, "hum": 40, "running": True, "mode": "auto",
                            "fault": None}),
                 (reading("temp", value=21.5), reading("hum", value=40.0), reading("running", value=1.0),
                  reading("mode", value_text="auto"), reading("fault")), id="flat-adapter"),
    pytest.param(TELEM, js({"ts": 1795341600000, "temp": 1}), (reading("temp", value=1.0),), id="flat-epoch-ms"),
    pytest.param(LEGACY_TOPIC, js({"ts": "2026-11-22T10:00:00Z", "pressao": 3.2}),
                 (reading("pressao", value=3.2, tenant="legacy", site=None, equipment="bomba-7"),),
                 id="legacy-template-flat"),
    pytest.param(LEGACY_TOPIC, v1(point()),
                 (reading(value=7.3, tenant="legacy", site=None, equipment="bomba-7"),), id="legacy-template-v1"),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), GOOD_TELEMETRY)
def test_good_telemetry(topic: str, payload: bytes, expected: tuple[Reading, ...]) -> None:
    assert PARSER.parse(topic, payload, RECEIVED) == Parsed(readings=expected)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(js({"schema": "v1", "ts": "2026-11-22T10:00:00Z", "type": "alarm", "severity": "warning",
                         "data": {"code": 17, "msg": "high pressure", "nested": [1, {"a": None}]}}),
                     Event(ts=T0, tenant="acme", site="plant-1", equipment="chiller-01", type="alarm",
                           severity="warning", data={"code": 17, "msg": "high pressure", "nested": [1, {"a": None}]}),
                     id="event-full"),
        pytest.param(js({"schema": "v1", "ts": 1795341600, "type": "door_open"}),
                     Event(ts=T0, tenant="acme", site="plant-1", equipment="chiller-01", type="door_open",
                           severity=None, data={}), id="event-minimal"),
    ],
)
def test_good_event(payload: bytes, expected: Event) -> None:
    assert PARSER.parse(EVENT, payload, RECEIVED) == Parsed(events=(expected,))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(js({"schema": "v1", "cmd_id": "c-123", "status": "done", "ts": "2026-11-22T10:00:00Z",
                         "detail": "setpoint 7.0 applied"}),
                     CommandAck(tenant="acme", equipment="chiller-01", cmd_id="c-123", status="done",
                                detail="setpoint 7.0 applied", ts=T0), id="ack-full"),
        pytest.param(js({"schema": "v1", "cmd_id": "c-124", "status": "accepted"}),
                     CommandAck(tenant="acme", equipment="chiller-01", cmd_id="c-124", status="accepted",
                                detail=None, ts=RECEIVED), id="ack-without-ts-uses-time-of-receipt"),
        pytest.param(js({"schema": "v1", "cmd_id": "c-125", "status": "partial", "detail": None}),
                     CommandAck(tenant="acme", equipment="chiller-01", cmd_id="c-125", status="partial",
                                detail=None, ts=RECEIVED), id="ack-partial"),
        pytest.param(js({"schema": "v1", "cmd_id": "c-126", "status": "error", "detail": "out of range"}),
                     CommandAck(tenant="acme", equipment="chiller-01", cmd_id="c-126", status="error",
                                detail="out of range", ts=RECEIVED), id="ack-error"),
    ],
)
def test_good_ack(payload: bytes, expected: CommandAck) -> None:
    assert PARSER.parse(ACK, payload, RECEIVED) == Parsed(acks=(expected,))


@pytest.mark.parametrize(
    "payload",
    [pytest.param(b"", id="empty"), pytest.param(b"\xff", id="not-utf8"), pytest.param(v1(point()), id="v1"),
     pytest.param(b"x" * 300_000, id="oversized")],
)
def test_platform_commands_are_ignored(payload: bytes) -> None:
    assert PARSER.parse(CMD, payload, RECEIVED) == Parsed()


def test_first_matching_template_wins() -> None:
    parser = MessageParser(parse_templates("tds/{tenant}/{site}/{equipment}/{kind},tds/{tenant}/x/{equipment}/"
                                           "{kind};site=other"))
    assert parser.parse(TELEM.replace("plant-1", "x"), v1(point()), RECEIVED).readings[0].site == "x"


def test_naive_received_at_is_taken_as_utc() -> None:
    parsed = PARSER.parse(ACK, js({"schema": "v1", "cmd_id": "c", "status": "done"}), RECEIVED.replace(tzinfo=None))
    assert parsed.acks[0].ts == RECEIVED


NUL = "\x00"
BAD = [
    # topic
    pytest.param("other/x", v1(point()), R.UNKNOWN_TOPIC, "matches no template", id="unknown-topic"),
    pytest.param("tds/acme/plant-1/chiller-01", v1(point()), R.UNKNOWN_TOPIC, "matches no template", id="short-topic"),
    pytest.param(TELEM + "/x", v1(point()), R.UNKNOWN_TOPIC, "matches no template", id="long-topic"),
    pytest.param("tds/+/plant-1/chiller-01/telem", v1(point()), R.HOSTILE_TOPIC, "MQTT wildcard '+'", id="topic-plus"),
    pytest.param("tds/acme/#", v1(point()), R.HOSTILE_TOPIC, "MQTT wildcard '#'", id="topic-hash-unmatched"),
    pytest.param("$SYS/broker/load", v1(point()), R.HOSTILE_TOPIC, "'$'", id="topic-dollar"),
    pytest.param("tds/ac me/plant-1/chiller-01/telem", v1(point()), R.HOSTILE_TOPIC, "whitespace", id="topic-space"),
    pytest.param("tds/acme/plant-1/chiller-01\t/telem", v1(point()), R.HOSTILE_TOPIC, "whitespace", id="topic-tab"),
    pytest.param("tds/acme/plant-1/ch\x1b/telem", v1(point()), R.HOSTILE_TOPIC, "control character",
                 id="topic-control"),
    pytest.param("tds/acme/plant-1/ch\u00e1/telem", v1(point()), R.HOSTILE_TOPIC, "outside the safe set",
                 id="topic-non-ascii"),
    pytest.param("tds//plant-1/chiller-01/telem", v1(point()), R.HOSTILE_TOPIC, "is empty", id="topic-empty-segment"),
    pytest.param("/tds/acme/plant-1/chiller-01/telem", v1(point()), R.HOSTILE_TOPIC, "segment 1 is empty",
                 id="topic-leading-slash"),
    pytest.param("", v1(point()), R.HOSTILE_TOPIC, "is empty", id="topic-empty"),
    pytest.param("tds/" + "a" * 129 + "/s/e/telem", v1(point()), R.HOSTILE_TOPIC, "129 characters", id="topic-long"),
    pytest.param("tds/acme/plant-1/chiller-01/telemetry", v1(point()), R.UNKNOWN_KIND, "'telemetry' is not one of",
                 id="unknown-kind"),
    # size and decoding
    pytest.param(TELEM, b"", R.EMPTY_PAYLOAD, "empty", id="empty"),
    pytest.param(TELEM, b"\xff", R.INVALID_UTF8, "byte 0 is 0xff", id="utf8-ff"),
    pytest.param(TELEM, b'{"v": "\xc3"}', R.INVALID_UTF8, "byte 7", id="utf8-truncated-sequence"),
    pytest.param(TELEM, b'"\xed\xa0\x80"', R.INVALID_UTF8, "not UTF-8", id="utf8-encoded-surrogate"),
    pytest.param(TELEM, b"{", R.INVALID_JSON, "not JSON", id="json-truncated"),
    pytest.param(TELEM, b"temp=7.3", R.INVALID_JSON, "not JSON", id="json-not"),
    pytest.param(TELEM, b"   ", R.INVALID_JSON, "not JSON", id="json-whitespace"),
    pytest.param(TELEM, b"\xef\xbb\xbf{}", R.INVALID_JSON, "byte order mark", id="json-bom"),
    pytest.param(TELEM, b'{"v": NaN}', R.INVALID_JSON, "not JSON", id="json-nan"),
    pytest.param(TELEM, b'{"v": 1e400}', R.INVALID_JSON, "infinity", id="json-infinite-number"),
    pytest.param(TELEM, b'{"v": "\\ud800"}', R.INVALID_JSON, "surrogate", id="json-lone-surrogate-escape"),
    pytest.param(TELEM, b"[" * 2000 + b"]" * 2000, R.INVALID_JSON, "not JSON", id="json-too-deep"),
    # shape
    pytest.param(TELEM, b"[]", R.SCHEMA_VIOLATION, "a JSON array", id="top-array"),
    pytest.param(TELEM, b'"v1"', R.SCHEMA_VIOLATION, "a JSON string", id="top-string"),
    pytest.param(TELEM, b"7.3", R.SCHEMA_VIOLATION, "a JSON number", id="top-number"),
    pytest.param(TELEM, b"null", R.SCHEMA_VIOLATION, "a JSON null", id="top-null"),
    pytest.param(TELEM, b"true", R.SCHEMA_VIOLATION, "a JSON boolean", id="top-boolean"),
    pytest.param(TELEM, js({"schema": "v1", "ts": "2026-11-22T10:00:00Z"}), R.SCHEMA_VIOLATION,
                 "points: Field required", id="points-missing"),
    pytest.param(TELEM, v1(), R.SCHEMA_VIOLATION, "points: List should have at least 1 item", id="points-empty"),
    pytest.param(TELEM, js({"schema": "v1", "ts": 1795341600, "points": {"a": 1}}), R.SCHEMA_VIOLATION, "points:",
                 id="points-object"),
    pytest.param(TELEM, js({"ts": 1795341600, "points": [point()]}), R.SCHEMA_VIOLATION, "schema: Field required",
                 id="schema-missing"),
    pytest.param(TELEM, v1(7), R.SCHEMA_VIOLATION, "points[0]:", id="point-not-object"),
    pytest.param(TELEM, v1({"v": 1}), R.SCHEMA_VIOLATION, "points[0].name: Field required", id="name-missing"),
    pytest.param(TELEM, v1(point(name=7)), R.SCHEMA_VIOLATION, "points[0].name: 7 is not a string", id="name-number"),
    pytest.param(TELEM, v1(point(name="")), R.SCHEMA_VIOLATION, "points[0].name: is empty", id="name-empty"),
    pytest.param(TELEM, v1(point(), point(name="temp agua")), R.SCHEMA_VIOLATION,
                 "points[1].name: 'temp agua' contains whitespace", id="name-space-second-point"),
    pytest.param(TELEM, v1(point(name="a+")), R.SCHEMA_VIOLATION, "wildcard", id="name-wildcard"),
    pytest.param(TELEM, v1(point(name="$a")), R.SCHEMA_VIOLATION, "'$'", id="name-dollar"),
    pytest.param(TELEM, v1(point(name="a" + NUL)), R.SCHEMA_VIOLATION, "control character", id="name-nul"),
    pytest.param(TELEM, v1(point(name="temperatura_água")), R.SCHEMA_VIOLATION, "outside the safe set",
                 id="name-non-ascii"),
    pytest.param(TELEM, v1(point(name="n" * 129)), R.SCHEMA_VIOLATION, "129 characters long; the limit is 128",
                 id="name-too-long"),
    pytest.param(TELEM, v1(point(t="double")), R.SCHEMA_VIOLATION, "points[0].t: 'double' is not a point type",
                 id="type-unknown"),
    pytest.param(TELEM, v1(point(t=None, v={})), R.SCHEMA_VIOLATION, "points[0].v: is an object", id="value-object"),
    pytest.param(TELEM, v1(point(v=[1])), R.SCHEMA_VIOLATION, "points[0].v: is an array", id="value-array"),
    pytest.param(TELEM, v1({"name": "a"}), R.SCHEMA_VIOLATION, "points[0].v: Field required", id="value-missing"),
    pytest.param(TELEM, v1(point(t="int", v=1.5)), R.SCHEMA_VIOLATION, "1.5 is not a valid int", id="int-fraction"),
    pytest.param(TELEM, v1(point(t="int", v=True)), R.SCHEMA_VIOLATION, "True is not a valid int", id="int-bool"),
    pytest.param(TELEM, v1(point(t="float", v="7.3")), R.SCHEMA_VIOLATION, "'7.3' is not a valid float",
                 id="float-string"),
    pytest.param(TELEM, v1(point(t="float", v=False)), R.SCHEMA_VIOLATION, "not a valid float", id="float-bool"),
    pytest.param(TELEM, v1(point(t="bool", v=2)), R.SCHEMA_VIOLATION, "2 is not a valid bool", id="bool-two"),
    pytest.param(TELEM, v1(point(t="bool", v="true")), R.SCHEMA_VIOLATION, "not a valid bool", id="bool-string"),
    pytest.param(TELEM, v1(point(t="string", v=1)), R.SCHEMA_VIOLATION, "1 is not a valid string", id="string-number"),
    pytest.param(TELEM, v1(point(v="a" + NUL)), R.SCHEMA_VIOLATION, "points[0].v: contains a NUL", id="string-nul"),
    pytest.param(TELEM, v1(point(u=7)), R.SCHEMA_VIOLATION, "points[0].u: 7 is not a string", id="unit-number"),
    pytest.param(TELEM, v1(point(u="°C" + NUL)), R.SCHEMA_VIOLATION, "points[0].u: contains a NUL", id="unit-nul"),
    pytest.param(TELEM, v1(point(u="a\nb")), R.SCHEMA_VIOLATION, "control character", id="unit-newline"),
    pytest.param(TELEM, v1(point(u="u" * 129)), R.SCHEMA_VIOLATION, "the limit is 128", id="unit-too-long"),
    pytest.param(TELEM, v1(point(q="ok")), R.SCHEMA_VIOLATION, "points[0].q: 'ok' is not a quality", id="q-word"),
    pytest.param(TELEM, v1(point(q=3)), R.SCHEMA_VIOLATION, "3 is not a quality", id="q-three"),
    pytest.param(TELEM, v1(point(q=True)), R.SCHEMA_VIOLATION, "True is not a quality", id="q-bool"),
    pytest.param(TELEM, v1(point(q=None)), R.SCHEMA_VIOLATION, "None is not a quality", id="q-null"),
    pytest.param(TELEM, js({"schema": "v1", "points": [point(ts=1795341600), point(name="b")]}), R.SCHEMA_VIOLATION,
                 "points[1] has no ts and the message has no ts", id="no-time-for-a-point"),
    pytest.param(TELEM, v1(point(), point(v=8)), R.SCHEMA_VIOLATION, "points[1] repeats temp_agua at", id="duplicate"),
    pytest.param(TELEM, v1(point(), point(ts="2026-11-22T07:00:00-03:00")), R.SCHEMA_VIOLATION, "repeats",
                 id="duplicate-after-normalising"),
    pytest.param(TELEM, js({"temp": 1}), R.SCHEMA_VIOLATION, "ts is missing", id="flat-no-ts"),
    pytest.param(TELEM, js({"ts": 1795341600}), R.SCHEMA_VIOLATION, "no readings", id="flat-only-ts"),
    pytest.param(TELEM, js({}), R.SCHEMA_VIOLATION, "ts is missing", id="empty-object"),
    pytest.param(TELEM, js({"ts": 1795341600, "temp": 1, "cfg": {"a": 1}}), R.SCHEMA_VIOLATION,
                 "'cfg' (value): is an object", id="flat-nested"),
    pytest.param(TELEM, js({"ts": 1795341600, "temp agua": 1}), R.SCHEMA_VIOLATION, "key 'temp agua'",
                 id="flat-unsafe-key"),
    pytest.param(EVENT, js({"schema": "v1", "ts": 1795341600}), R.SCHEMA_VIOLATION, "type: Field required",
                 id="event-type-missing"),
    pytest.param(EVENT, js({"schema": "v1", "type": "alarm"}), R.SCHEMA_VIOLATION, "ts: Field required",
                 id="event-ts-missing"),
    pytest.param(EVENT, js({"schema": "v1", "ts": 1795341600, "type": "high alarm"}), R.SCHEMA_VIOLATION,
                 "type: 'high alarm' contains whitespace", id="event-type-unsafe"),
    pytest.param(EVENT, js({"schema": "v1", "ts": 1795341600, "type": "alarm", "data": [1]}), R.SCHEMA_VIOLATION,
                 "data: [1] is not a JSON object", id="event-data-array"),
    pytest.param(EVENT, js({"schema": "v1", "ts": 1795341600, "type": "alarm", "data": {"a": [{"b": NUL}]}}),
                 R.SCHEMA_VIOLATION, "data: contains a NUL", id="event-data-nul-value"),
    pytest.param(EVENT, js({"schema": "v1", "ts": 1795341600, "type": "alarm", "data": {NUL: 1}}),
                 R.SCHEMA_VIOLATION, "data: contains a NUL", id="event-data-nul-key"),
    pytest.param(EVENT, js({"schema": "v1", "ts": 1795341600, "type": "alarm", "severity": 3}), R.SCHEMA_VIOLATION,
                 "severity: 3 is not a string", id="event-severity-number"),
    pytest.param(EVENT, js({"ts": 1795341600, "type": "alarm"}), R.SCHEMA_VIOLATION, "schema: Field required",
                 id="event-schema-missing"),
    pytest.param(ACK, js({"schema": "v1", "status": "done"}), R.SCHEMA_VIOLATION, "cmd_id: Field required",
                 id="ack-cmd-id-missing"),
    pytest.param(ACK, js({"schema": "v1", "cmd_id": "c/1", "status": "done"}), R.SCHEMA_VIOLATION, "cmd_id: 'c/1'",
                 id="ack-cmd-id-unsafe"),
    pytest.param(ACK, js({"schema": "v1", "cmd_id": "c-1", "status": "ok"}), R.SCHEMA_VIOLATION, "status: Input should "
                 "be 'accepted', 'done', 'partial' or 'error'", id="ack-status-unknown"),
    pytest.param(ACK, js({"schema": "v1", "cmd_id": "c-1", "status": "done", "detail": NUL}), R.SCHEMA_VIOLATION,
                 "detail: contains a NUL", id="ack-detail-nul"),
    # schema version
    pytest.param(TELEM, v1(point(), schema="v2"), R.UNSUPPORTED_SCHEMA, "schema: 'v2' is not a supported schema",
                 id="schema-v2"),
    pytest.param(TELEM, v1(point(), schema=1), R.UNSUPPORTED_SCHEMA, "1 is not a supported schema", id="schema-number"),
    pytest.param(TELEM, v1(point(), schema=None), R.UNSUPPORTED_SCHEMA, "None", id="schema-null"),
    pytest.param(TELEM, js({"schema": "v2", "anything": 1}), R.UNSUPPORTED_SCHEMA, "'v2'", id="schema-v2-other-shape"),
    pytest.param(EVENT, js({"schema": "V1", "ts": 1795341600, "type": "a"}), R.UNSUPPORTED_SCHEMA, "'V1'",
                 id="event-schema-v1-upper"),
    pytest.param(ACK, js({"schema": "v0", "cmd_id": "c", "status": "done"}), R.UNSUPPORTED_SCHEMA, "'v0'",
                 id="ack-schema-v0"),
    # timestamps
    pytest.param(TELEM, v1(point(), ts="2026-11-22T10:00:00"), R.BAD_TIMESTAMP, "ts: '2026-11-22T10:00:00' has no UTC "
                 "offset", id="ts-naive"),
    pytest.param(TELEM, v1(point(), ts="2026-11-22"), R.BAD_TIMESTAMP, "has no UTC offset", id="ts-date-only"),
    pytest.param(TELEM, v1(point(), ts="now"), R.BAD_TIMESTAMP, "is not an ISO 8601 timestamp", id="ts-word"),
    pytest.param(TELEM, v1(point(), ts="1795341600"), R.BAD_TIMESTAMP, "is not an ISO 8601", id="ts-numeric-string"),
    pytest.param(TELEM, v1(point(), ts=True), R.BAD_TIMESTAMP, "True is not a timestamp", id="ts-bool"),
    pytest.param(TELEM, v1(point(), ts={"s": 1}), R.BAD_TIMESTAMP, "is not a timestamp", id="ts-object"),
    pytest.param(TELEM, v1(point(), ts=1e20), R.BAD_TIMESTAMP, "out of range", id="ts-epoch-huge"),
    pytest.param(TELEM, v1(point(), ts=0), R.BAD_TIMESTAMP, "before the earliest accepted time", id="ts-epoch-zero"),
    pytest.param(TELEM, v1(point(), ts="1999-12-31T23:59:59Z"), R.BAD_TIMESTAMP, "before the earliest",
                 id="ts-before-2000"),
    pytest.param(TELEM, v1(point(), ts="2026-11-22T11:30:01Z"), R.BAD_TIMESTAMP, "later than 2026-11-22T11:30:00+00:00",
                 id="ts-too-far-ahead"),
    pytest.param(TELEM, v1(point(), point(name="b", ts="2026-11-22T25:00:00Z")), R.BAD_TIMESTAMP,
                 "points[1].ts: '2026-11-22T25:00:00Z' is not an ISO 8601", id="point-ts-bad"),
    pytest.param(TELEM, js({"ts": "2026-11-22T10:00:00", "temp": 1}), R.BAD_TIMESTAMP, "ts: '2026-11-22T10:00:00' has "
                 "no UTC offset", id="flat-ts-naive"),
    pytest.param(EVENT, js({"schema": "v1", "ts": "2099-01-01T00:00:00Z", "type": "a"}), R.BAD_TIMESTAMP, "later than",
                 id="event-ts-future"),
    pytest.param(EVENT, js({"schema": "v1", "ts": None, "type": "a"}), R.BAD_TIMESTAMP, "ts: None is not a timestamp",
                 id="event-ts-null"),
    pytest.param(ACK, js({"schema": "v1", "cmd_id": "c", "status": "done", "ts": "x"}), R.BAD_TIMESTAMP,
                 "ts: 'x' is not an ISO 8601", id="ack-ts-bad"),
]


@pytest.mark.parametrize(("topic", "payload", "reason", "detail_part"), BAD)
def test_bad_message_is_one_dead_letter_with_the_original_bytes(
    topic: str, payload: bytes, reason: DeadLetterReason, detail_part: str
) -> None:
    parsed = PARSER.parse(topic, payload, RECEIVED)
    assert (parsed.readings, parsed.events, parsed.acks) == ((), (), ())
    letter = parsed.dead_letter
    assert letter is not None
    assert letter.reason is reason, letter.detail
    assert letter.payload == payload
    assert type(letter.payload) is bytes
    assert detail_part in letter.detail
    assert "\x00" not in letter.detail
    assert "\n" not in letter.detail
    if "\x00" not in topic:
        assert letter.topic == topic


def test_an_oversized_payload_is_kept_as_its_size_hash_and_a_prefix() -> None:
    payload = b'{"schema":"v1","pad":"' + b"x" * (256 * 1024) + b'"}'
    letter = PARSER.parse(TELEM, payload, RECEIVED).dead_letter
    assert letter is not None
    assert letter.reason is R.OVERSIZED
    assert letter.payload == payload[:OVERSIZED_KEPT_BYTES]
    assert f"payload is {len(payload)} bytes; the limit is 262144" in letter.detail
    assert hashlib.sha256(payload).hexdigest() in letter.detail


def test_event_data_nested_hundreds_of_levels_deep_is_a_reason_not_a_parser_bug() -> None:
    """~450 levels exhausted Python's recursion limit in the NUL check: "parser bug, RecursionError"."""
    def event(depth: int) -> bytes:
        data = '{"a":' * depth + "1" + "}" * depth
        return ('{"schema":"v1","ts":"2026-11-22T10:00:00Z","type":"alarm","data":' + data + "}").encode()

    for depth in (MAX_DATA_DEPTH + 1, 450, 1000):
        letter = PARSER.parse(EVENT, event(depth), RECEIVED).dead_letter
        assert letter is not None
        assert (letter.reason, letter.detail) == (R.SCHEMA_VIOLATION, f"data: is nested more than {MAX_DATA_DEPTH} "
                                                                      "levels deep"), depth
    assert len(PARSER.parse(EVENT, event(MAX_DATA_DEPTH - 1), RECEIVED).events) == 1


def test_topic_with_nul_is_stored_escaped() -> None:
    letter = PARSER.parse("tds/a\x00b/s/e/telem", b"{}", RECEIVED).dead_letter
    assert letter is not None
    assert letter.topic == "tds/a\\x00b/s/e/telem"
    assert letter.reason is R.HOSTILE_TOPIC


def test_one_bad_point_dead_letters_the_whole_message() -> None:
    payload = v1(*[point(name=f"m{i}") for i in range(50)], point(name="m50", v=float("inf")) | {"v": "x"},
                 point(name="m51", t="int", v=0.5))
    parsed = PARSER.parse(TELEM, payload, RECEIVED)
    assert parsed.readings == ()
    assert parsed.dead_letter is not None
    assert parsed.dead_letter.detail == "points[51].v: 0.5 is not a valid int value"


@pytest.mark.parametrize(
    ("limits", "topic", "payload", "reason"),
    [
        pytest.param(ParserLimits(max_payload_bytes=10), TELEM, v1(point()), R.OVERSIZED, id="payload-bytes"),
        pytest.param(ParserLimits(max_points=2), TELEM, v1(point(name="a"), point(name="b"), point(name="c")),
                     R.OVERSIZED, id="points"),
        pytest.param(ParserLimits(max_points=1), TELEM, js({"ts": 1795341600, "a": 1, "b": 2}), R.OVERSIZED,
                     id="flat-points"),
        pytest.param(ParserLimits(max_future_skew_s=0), TELEM, v1(point(), ts="2026-11-22T10:30:00.000001Z"),
                     R.BAD_TIMESTAMP, id="future-skew"),
        pytest.param(ParserLimits(earliest_ts=T0), TELEM, v1(point(), ts="2026-11-22T09:59:59Z"), R.BAD_TIMESTAMP,
                     id="earliest"),
        pytest.param(ParserLimits(max_age=timedelta(minutes=30)), TELEM, v1(point(), ts="2026-11-22T09:59:59Z"),
                     R.BAD_TIMESTAMP, id="max-age"),
        pytest.param(ParserLimits(max_age=timedelta(minutes=30)), TELEM,
                     v1(point(ts="2026-11-22T10:30:00Z"), point(ts="2026-11-22T09:59:59Z")), R.BAD_TIMESTAMP,
                     id="max-age-point"),
        pytest.param(ParserLimits(max_days=2), TELEM,
                     v1(*[point(ts=f"2026-11-{day}T10:00:00Z") for day in (20, 21, 22)]), R.TOO_MANY_DAYS,
                     id="days"),
        pytest.param(ParserLimits(max_days=1), TELEM,
                     v1(point(ts="2026-11-21T23:59:59Z"), point(ts="2026-11-22T00:00:00Z")), R.TOO_MANY_DAYS,
                     id="days-at-midnight"),
        pytest.param(ParserLimits(max_name_length=5), "tds/acme/s/e/telem", v1(point(name="abcdef")),
                     R.SCHEMA_VIOLATION, id="metric-name-length"),
        pytest.param(ParserLimits(max_name_length=5), "tds/acme12/s/e/telem", v1(point(name="abc")), R.HOSTILE_TOPIC,
                     id="topic-segment-length"),
    ],
)
def test_limits_are_overridable(limits: ParserLimits, topic: str, payload: bytes, reason: DeadLetterReason) -> None:
    parser = MessageParser(parse_templates(DEFAULT_TOPIC_TEMPLATE), limits)
    letter = parser.parse(topic, payload, RECEIVED).dead_letter
    assert letter is not None
    assert letter.reason is reason
    assert PARSER.parse(topic, payload, RECEIVED).dead_letter is None  # the default limits let it through


def test_limits_at_their_edges_pass() -> None:
    payload = v1(point(name="a"), point(name="b"))
    parser = MessageParser(parse_templates(DEFAULT_TOPIC_TEMPLATE), ParserLimits(max_payload_bytes=len(payload),
                                                                                 max_points=2))
    assert len(parser.parse(TELEM, payload, RECEIVED).readings) == 2


@pytest.mark.parametrize(
    "kwargs",
    [pytest.param({"earliest_ts": datetime(2000, 1, 1)}, id="naive-earliest"),
     pytest.param({"max_points": 0}, id="zero-points"), pytest.param({"max_future_skew_s": -1}, id="negative-skew"),
     pytest.param({"max_days": 0}, id="zero-days"), pytest.param({"max_age": timedelta(0)}, id="zero-age")],
)
def test_limits_refuse_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="ParserLimits"):
        ParserLimits(**kwargs)


def test_parser_needs_a_template() -> None:
    with pytest.raises(ValueError, match="at least one topic template"):
        MessageParser([])
