"""A device account used as an attacker, against a real writer, broker and database (issue 16).

Each test is one attack from the review: what it did to the writer before, and that it now stays the
attacking message's problem. The broker's own defences (size limit, client ids bound to accounts) are
in tests/deploy/test_broker_security.py.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.engine import make_url

from ingest_stream.broker import BrokerAddress
from tests.ingest_stream.conftest import BASE_TS, TDS_INGEST, IngestRig, Publisher, WriterProcess, v1, wait_until
from tests.servers import as_login


def _poison() -> bytes:
    """The review's message: 261 KB of v1, 7,502 points, each on a different day since 2000 (the parser
    took any time from 2000-01-01 on, and each day is a TimescaleDB chunk of its own)."""
    noon = datetime(2000, 1, 1, 12, tzinfo=UTC)
    points = [{"name": "m", "v": 1, "ts": int((noon + timedelta(days=day)).timestamp())} for day in range(7502)]
    return orjson.dumps({"schema": "v1", "points": points})


def test_one_message_with_readings_on_7502_days_no_longer_stops_ingestion(rig: IngestRig) -> None:
    """Before: "out of shared memory" for its batch, retried forever; 0 of 40 good messages landed in
    40 s and /health said 200. Now the writer's default window (the raw retention, 30 days) refuses it
    and the good messages land around it."""
    writer = rig.writer("a", TDS_MAX_READING_AGE_DAYS=None).start().wait_ready()
    pub = rig.publisher()
    now = datetime.now(UTC).replace(microsecond=0)
    poison = _poison()
    assert 250_000 < len(poison) < 262_144
    good = [pub.publish(rig.topic("ch-1"), v1({"temp": float(i)}, now - timedelta(seconds=i))) for i in range(20)]
    bad = pub.publish(rig.topic("ch-9"), poison)
    good += [pub.publish(rig.topic("ch-1"), v1({"temp": float(i)}, now - timedelta(seconds=i))) for i in range(20, 40)]
    assert pub.wait_acked([*good, bad]) == {*good, bad}

    assert rig.wait_for_rows(40, timeout_s=30) == 40
    wait_until(lambda: len(rig.dead_letters()) == 1, 10, "the poison message is dead-lettered")
    [(topic, payload, reason, detail, _instance)] = rig.dead_letters()
    assert (topic, payload, reason) == (rig.topic("ch-9"), poison, "bad_timestamp")
    assert "before the earliest accepted time" in detail
    wait_until(lambda: writer.health()[1]["queue_depth"] == 0, 10, "nothing waits")
    assert writer.health()[0] == 200


def test_a_tenant_that_invents_series_without_end_hits_its_quota(rig: IngestRig) -> None:
    """Any device could invent unlimited equipment and metrics, each a series, gaps, alerts and backfill runs."""
    writer = rig.writer("a", TDS_MAX_NEW_SERIES_PER_HOUR="3").start().wait_ready()
    pub = rig.publisher()
    first = pub.publish(rig.topic("ch-1"), v1({"a": 1.0, "b": 2.0}, datetime.now(UTC)))
    assert pub.wait_acked([first])
    assert rig.wait_for_rows(2, timeout_s=20) == 2
    invented = v1({"c": 1.0, "d": 2.0}, datetime.now(UTC))
    known = v1({"a": 3.0}, datetime.now(UTC) + timedelta(seconds=1))
    mids = [pub.publish(rig.topic("ch-1"), invented), pub.publish(rig.topic("ch-1"), known)]
    assert pub.wait_acked(mids) == set(mids)

    assert rig.wait_for_rows(3, timeout_s=20) == 3
    wait_until(lambda: len(rig.dead_letters()) == 1, 10, "the message with invented series is dead-lettered")
    [(topic, payload, reason, detail, _instance)] = rig.dead_letters()
    assert (topic, payload, reason) == (rig.topic("ch-1"), invented, "registry_quota")
    assert "quota of 3 new series" in detail
    wait_until(lambda: writer.metric("tds_ingest_dead_letters_total", reason="registry_quota") == 1, 10,
               "the refusal is counted")
    assert rig.query("SELECT count(*) FROM tds.metric_spec") == [(2,)]
    log = [json.loads(line) for line in writer.log_path.read_text().splitlines()]
    assert any("registry quota" in entry["event"] and entry.get("tenant") == rig.tenant for entry in log)


def test_the_password_of_a_key_value_database_url_never_reaches_the_log(rig: IngestRig) -> None:
    login = make_url(as_login(rig.database_url, "tds_ingest"))
    secret = login.password  # the writer's real password: the writer must connect with it
    dsn = f"host={login.host} port={login.port} dbname={login.database} user=tds_ingest password='{secret}'"
    writer = rig.writer("a", TDS_DATABASE_URL=dsn).start().wait_ready()
    writer.stop()
    log = writer.log_path.read_text()
    assert secret not in log
    [starting] = [json.loads(line) for line in log.splitlines() if '"starting"' in line]
    assert "password=***" in starting["database"]
    shown = subprocess.run([TDS_INGEST, "settings", "--database-url", dsn], capture_output=True, text=True,
                           check=True).stdout
    assert secret not in shown and "password=***" in shown


def test_qos_2_is_refused_with_one_sentence() -> None:
    """With QoS 2 paho sends PUBREC on receipt: a crash before the commit lost the message."""
    result = subprocess.run([TDS_INGEST, "settings", "--mqtt-qos", "2"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "mqtt_qos" in result.stderr and "must be 0 or 1" in result.stderr
    assert "Traceback" not in result.stderr


def _connected_client_id(writer: WriterProcess) -> str:
    """The client id the writer's own session connected with, from its log."""
    entries = [json.loads(line) for line in writer.log_path.read_text().splitlines()]
    return next(e["client_id"] for e in entries if e["event"] == "mqtt connected" and e.get("session") == "own")


def _steal_session(url: str, client_id: str) -> None:
    """Connect with `client_id`, resuming whatever session it has, then leave with session expiry 0."""
    address = BrokerAddress.from_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(address.username, address.password)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    client.connect(address.host, address.port, clean_start=False, properties=properties)
    client.loop_start()
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()


def test_a_device_with_a_writers_client_id_neither_kicks_it_off_nor_empties_its_queue(rig: IngestRig) -> None:
    """Connecting with a live writer's id kicked it off, repeatably; with an offline writer's id (session
    present), then leaving with session expiry 0, emptied its queue: 5 queued messages gone."""
    writer = rig.writer("a").start().wait_ready()
    writer_id = _connected_client_id(writer)
    attacker_url = rig.stack.device_mqtt_url(f"{rig.tenant}~attacker")
    kicker = Publisher(attacker_url, writer_id)
    time.sleep(1.5)
    kicker.close()
    assert writer.metric("tds_ingest_reconnects_total") == 0, "the live writer was kicked off"

    pub = rig.publisher()
    first = rig.publish_readings(pub, 10)
    assert len(pub.wait_acked(list(first))) == 10
    assert rig.wait_for_rows(10, timeout_s=20) == 10
    writer.stop()  # offline: the broker keeps its session and queues its share for it
    queued = rig.publish_readings(pub, 5, start=BASE_TS + timedelta(hours=1))
    assert len(pub.wait_acked(list(queued))) == 5
    _steal_session(attacker_url, writer_id)

    rig.writer("a").start().wait_ready()
    assert rig.wait_for_rows(15, timeout_s=30) == 15, "the writer's queued messages were lost"
    rig.assert_exactly_once(first | queued, set(first) | set(queued))
