"""Bad input published over real MQTT: each message becomes one tds.dlq row with its exact bytes (an
oversized one: its size and hash in the detail and its first bytes).

A table of inputs, one reason code each; afterwards the writer is still healthy, still acknowledging,
and lands the good messages published after the bad ones. Nothing bad may land as a reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingest_stream.parsing.parser import OVERSIZED_KEPT_BYTES
from tests.ingest_stream.conftest import BASE_TS, IngestRig, v1, wait_until

MAX_PAYLOAD_BYTES = 4096
TS = '"ts":"2026-11-22T10:00:00Z"'
GOOD = v1({"temp": 1.0}, BASE_TS)


@dataclass(frozen=True)
class BadInput:
    name: str
    payload: bytes
    reason: str
    kind: str = "telem"
    site: str = "plant-1"
    equipment: str = ""  # default: one equipment per case, so every row is told apart by its topic

    @property
    def stored(self) -> bytes:
        """The bytes its dead letter keeps."""
        return self.payload[:OVERSIZED_KEPT_BYTES] if len(self.payload) > MAX_PAYLOAD_BYTES else self.payload


def _telem(body: str) -> bytes:
    return ('{"schema":"v1",' + body + "}").encode()


BAD_INPUTS = [
    BadInput("utf8-inside-a-string", _telem(TS + ',"points":[{"name":"temp","v":"') + b'\xff\xfe"}]}',
             "invalid_utf8"),
    BadInput("utf8-lone-continuation-byte", b"\x80" + GOOD, "invalid_utf8"),
    BadInput("json-truncated", _telem(TS + ',"points":[')[:-1], "invalid_json"),
    BadInput("json-nan-literal", _telem(TS + ',"points":[{"name":"temp","v":NaN}]'), "invalid_json"),
    BadInput("json-plain-text", b"temp=21.5", "invalid_json"),
    BadInput("empty", b"", "empty_payload"),
    BadInput("json-array", b'[{"name":"temp","v":1}]', "schema_violation"),
    BadInput("no-points", _telem(TS), "schema_violation"),
    BadInput("empty-points", _telem(TS + ',"points":[]'), "schema_violation"),
    BadInput("value-is-object", _telem(TS + ',"points":[{"name":"temp","v":{"x":1}}]'), "schema_violation"),
    BadInput("metric-name-unsafe", _telem(TS + ',"points":[{"name":"temp agua","v":1}]'), "schema_violation"),
    BadInput("nul-in-text-value", _telem(TS + ',"points":[{"name":"mode","v":"a\\u0000b"}]'), "schema_violation"),
    BadInput("int-type-with-fraction", _telem(TS + ',"points":[{"name":"n","t":"int","v":1.5}]'), "schema_violation"),
    BadInput("bad-quality", _telem(TS + ',"points":[{"name":"temp","v":1,"q":"great"}]'), "schema_violation"),
    BadInput("schema-v9", _telem(TS + ',"points":[{"name":"temp","v":1}]').replace(b'"v1"', b'"v9"'),
             "unsupported_schema"),
    BadInput("ts-words", _telem('"ts":"yesterday","points":[{"name":"temp","v":1}]'), "bad_timestamp"),
    BadInput("ts-without-zone", _telem('"ts":"2026-11-22T10:00:00","points":[{"name":"temp","v":1}]'),
             "bad_timestamp"),
    BadInput("ts-1970", _telem('"ts":"1970-01-01T00:00:00Z","points":[{"name":"temp","v":1}]'), "bad_timestamp"),
    BadInput("ts-year-2999", _telem('"ts":"2999-01-01T00:00:00Z","points":[{"name":"temp","v":1}]'),
             "bad_timestamp"),
    BadInput("ts-absurd-epoch", _telem('"ts":1e300,"points":[{"name":"temp","v":1}]'), "bad_timestamp"),
    BadInput("point-ts-absurd", _telem(TS + ',"points":[{"name":"temp","v":1,"ts":-1e18}]'), "bad_timestamp"),
    BadInput("oversized", _telem(TS + ',"points":[{"name":"temp","v":1}],"meta":{"pad":"' + "x" * MAX_PAYLOAD_BYTES
                                 + '"}'), "oversized"),
    BadInput("event-without-type", _telem(TS + ',"severity":"warning"'), "schema_violation", kind="event"),
    BadInput("event-bad-ts", _telem('"ts":"soon","type":"alarm"'), "bad_timestamp", kind="event"),
    BadInput("event-data-450-levels", _telem(TS + ',"type":"alarm","data":' + '{"a":' * 450 + "1" + "}" * 450),
             "schema_violation", kind="event"),
    BadInput("ack-unknown-status", _telem('"cmd_id":"c-1","status":"maybe"'), "schema_violation", kind="ack"),
    BadInput("ack-not-json", b"\x00\x01\x02", "invalid_json", kind="ack"),
    # Hostile topic segments (the ACL lets a device put anything into its site and equipment levels).
    BadInput("site-with-space", GOOD, "hostile_topic", site="plant 1"),
    BadInput("site-empty", GOOD, "hostile_topic", site=""),
    BadInput("site-unicode", GOOD, "hostile_topic", site="plänt"),
    BadInput("equipment-dollar", GOOD, "hostile_topic", equipment="ch$1"),
    BadInput("equipment-sql", GOOD, "hostile_topic", equipment="ch-1';DROP TABLE tds.telemetry_raw;--"),
    BadInput("equipment-too-long", GOOD, "hostile_topic", equipment="e" * 200),
    BadInput("equipment-percent", GOOD, "hostile_topic", equipment="ch%00"),
]


def test_every_bad_input_is_dead_lettered_with_its_exact_bytes_and_the_writer_carries_on(rig: IngestRig) -> None:
    writer = rig.writer("a", TDS_MAX_PAYLOAD_BYTES=str(MAX_PAYLOAD_BYTES)).start().wait_ready()
    pub = rig.publisher()
    expected = []
    mids = []
    for number, case in enumerate(BAD_INPUTS):
        topic = rig.topic(case.equipment or f"bad-{number}", case.kind, case.site)
        expected.append((topic, case.stored, case.reason))
        mids.append(pub.publish(topic, case.payload))
    assert pub.wait_acked(mids) == set(mids), f"the broker refused some publishes: {pub.refused & set(mids)}"

    wait_until(lambda: len(rig.dead_letters()) >= len(BAD_INPUTS), 20, "every bad input is dead-lettered")
    letters = rig.dead_letters()
    landed = sorted((topic, payload, reason) for topic, payload, reason, _detail, _instance in letters)
    by_name = dict(zip((c.name for c in BAD_INPUTS), expected, strict=True))
    wrong = {name: want for name, want in by_name.items() if want not in landed}
    assert not wrong, f"missing or wrong DLQ rows (expected topic, bytes, reason): {wrong}\nlanded: {landed}"
    assert len(letters) == len(BAD_INPUTS), "each bad message is one row, written once"
    assert all(detail and instance == f"{rig.tenant}-a" for _t, _p, _r, detail, instance in letters)
    assert rig.reading_count() == 0, "nothing from a bad message may land as a reading"

    sent = rig.publish_readings(pub, 20, equipment="after")
    acked = pub.wait_acked(list(sent))
    assert len(acked) == 20
    assert rig.wait_for_rows(20, timeout_s=20) == 20
    rig.assert_exactly_once(sent, acked, equipment="after")
    wait_until(lambda: writer.metric("tds_ingest_messages_total") == len(BAD_INPUTS) + 20, 10,
               "every message is counted")
    code, body = writer.health()
    assert code == 200 and body["queue_depth"] == 0, body
    assert writer.alive
    for reason in {case.reason for case in BAD_INPUTS}:
        want = sum(1 for case in BAD_INPUTS if case.reason == reason)
        assert writer.metric("tds_ingest_dead_letters_total", reason=reason) == want, reason


def test_unknown_kind_from_a_template_with_the_kind_in_another_level(rig: IngestRig) -> None:
    """The broker's ACL only admits telem/event/ack as the last level, so this layout puts `kind`
    one level up, where a device can write anything."""
    template = f"tds/{rig.tenant}/{{site}}/{{kind}}/telem;tenant={rig.tenant};equipment=pump-9"
    writer = rig.writer("a", TDS_MQTT_TOPICS=template).start().wait_ready()
    pub = rig.publisher()
    bogus = json.dumps({"schema": "v1", "ts": "2026-11-22T10:00:00Z", "points": [{"name": "x", "v": 1}]}).encode()
    cases = [(rig.topic("bogus"), bogus), (rig.topic("TELEM"), GOOD), (rig.topic("cmd"), GOOD),
             (rig.topic("telem"), GOOD)]
    mids = [pub.publish(topic, payload) for topic, payload in cases]
    assert pub.wait_acked(mids) == set(mids)
    wait_until(lambda: writer.metric("tds_ingest_messages_total") == 4, 20, "all four messages are handled")
    assert sorted((t, p, r) for t, p, r, _d, _i in rig.dead_letters()) == [
        (rig.topic("TELEM"), GOOD, "unknown_kind"), (rig.topic("bogus"), bogus, "unknown_kind")]
    assert writer.metric("tds_ingest_messages_total", kind="other", outcome="ignored") == 1, "cmd is ignored"
    assert rig.query("SELECT tenant, equipment, metric FROM tds.telemetry") == [(rig.tenant, "pump-9", "temp")]
    assert writer.health()[0] == 200
