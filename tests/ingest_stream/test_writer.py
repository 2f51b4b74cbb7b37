"""The stream writer end to end: real Mosquitto, real TimescaleDB, real `tds-ingest` processes."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.ingest_stream.conftest import BASE_TS, IngestRig, v1


def test_lands_each_kind_and_counts_a_redelivery_as_duplicate(rig: IngestRig) -> None:
    writer = rig.writer("a").start().wait_ready()
    pub = rig.publisher()
    telem = json.dumps({"schema": "v1", "ts": "2026-11-22T10:00:00Z", "points": [
        {"name": "temp_agua", "t": "float", "v": 7.3, "u": "°C", "q": "good"},
        {"name": "running", "t": "bool", "v": True},
        {"name": "mode", "t": "string", "v": "auto", "q": "uncertain"}]}).encode()
    event = json.dumps({"schema": "v1", "ts": "2026-11-22T10:00:01Z", "type": "alarm", "severity": "warning",
                        "data": {"code": 17}}).encode()
    accepted = json.dumps({"schema": "v1", "cmd_id": "c-1", "status": "accepted", "ts": "2026-11-22T10:00:02Z"})
    done = json.dumps({"schema": "v1", "cmd_id": "c-1", "status": "done", "ts": "2026-11-22T10:00:03Z"})
    mids = [pub.publish(rig.topic("ch-1"), telem), pub.publish(rig.topic("ch-1"), telem),
            pub.publish(rig.topic("ch-1", "event"), event), pub.publish(rig.topic("ch-1", "event"), event),
            pub.publish(rig.topic("ch-1", "ack"), accepted.encode()),
            pub.publish(rig.topic("ch-1", "ack"), done.encode())]
    assert len(pub.wait_acked(mids)) == len(mids)
    assert rig.wait_for_rows(3) == 3
    rows = rig.query("SELECT metric, value, value_text, unit, quality, site FROM tds.telemetry ORDER BY metric")
    assert rows == [("mode", None, "auto", None, 1, "plant-1"), ("running", 1.0, None, None, 0, "plant-1"),
                    ("temp_agua", 7.3, None, "°C", 0, "plant-1")]
    deadline_rows = rig.query("SELECT count(*) FROM tds.events")
    assert deadline_rows == [(1,)]
    assert rig.query("SELECT status FROM tds.cmd_ack WHERE cmd_id = 'c-1'") == [("done",)]
    metrics = writer.health("/health")[1]
    assert metrics["database"]["ok"]
    registry = rig.query("SELECT equipment, site, last_seen FROM tds.equipment")
    assert registry == [("ch-1", "plant-1", BASE_TS + timedelta(seconds=0))] or registry[0][:2] == ("ch-1", "plant-1")


def test_two_writers_on_the_same_data_write_one_row_each(rig: IngestRig) -> None:
    # Two writers NOT sharing a group both receive every message: the key absorbs the doubles.
    first = rig.writer("a", group="g1").start()
    second = rig.writer("b", group="g2").start()
    first.wait_ready()
    second.wait_ready()
    pub = rig.publisher()
    sent = rig.publish_readings(pub, 500)
    acked = pub.wait_acked(list(sent))
    assert len(acked) == 500
    assert rig.wait_for_rows(500) == 500
    rig.assert_exactly_once(sent, acked)
    for writer in (first, second):
        assert writer.health()[0] == 200


def test_two_writers_in_one_group_split_the_load(rig: IngestRig) -> None:
    writers = [rig.writer(name).start() for name in ("a", "b")]
    for writer in writers:
        writer.wait_ready()
    pub = rig.publisher()
    sent = rig.publish_readings(pub, 1000)
    acked = pub.wait_acked(list(sent))
    assert rig.wait_for_rows(1000) == 1000
    rig.assert_exactly_once(sent, acked)
    landed_by = [_metric(w, "tds_ingest_messages_total") for w in writers]
    assert all(share > 300 for share in landed_by), landed_by
    assert sum(landed_by) == 1000


def _metric(writer: object, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{writer.http_port}/metrics", timeout=2) as response:  # type: ignore[attr-defined]
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_dry_run_writes_nothing_and_takes_nothing_from_the_group(rig: IngestRig) -> None:
    production = rig.writer("prod").start().wait_ready()
    dry = rig.writer("dev", TDS_DRY_RUN="true").start().wait_ready()
    pub = rig.publisher()
    sent = rig.publish_readings(pub, 200)
    acked = pub.wait_acked(list(sent))
    assert rig.wait_for_rows(200) == 200
    rig.assert_exactly_once(sent, acked)
    assert _metric(production, "tds_ingest_messages_total") == 200
    assert _metric(dry, "tds_ingest_messages_total") == 200
    assert rig.query("SELECT count(*) FROM tds.dlq") == [(0,)]


def test_same_payload_published_twice_is_one_row(rig: IngestRig) -> None:
    rig.writer("a").start().wait_ready()
    pub = rig.publisher()
    payload = v1({"temp": 1.0}, BASE_TS)
    mids = [pub.publish(rig.topic("ch-1"), payload) for _ in range(5)]
    assert len(pub.wait_acked(mids)) == 5
    rig.wait_for_rows(1, timeout_s=5)
    writer = rig.writers[0]
    deadline = __import__("time").monotonic() + 10
    while _metric(writer, "tds_ingest_duplicates_total") < 4 and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.1)
    assert rig.reading_count() == 1
    assert _metric(writer, "tds_ingest_duplicates_total") == 4
