"""Health, metrics and logs of a running `tds-ingest` process, as an operator or Prometheus sees them.

Real writer, broker and database; the recent-data thresholds are driven through tds.equipment.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg

from tests.ingest_stream.conftest import BASE_TS, IngestRig, WriterProcess, v1, wait_until
from tests.servers import admin_url

DOCUMENTED_METRICS = [
    "tds_ingest_messages_total",                     # messages by kind and outcome
    "tds_ingest_points_total",
    "tds_ingest_duplicates_total",
    "tds_ingest_dead_letters_total",                 # DLQ by reason
    "tds_ingest_batch_size_bucket",
    "tds_ingest_commit_duration_seconds_bucket",
    "tds_ingest_publish_to_commit_seconds_bucket",   # from the payload time
    "tds_ingest_receive_to_commit_seconds_bucket",   # from the receipt time
    "tds_ingest_queue_depth",
    "tds_ingest_mqtt_connected",                     # connection state
    "tds_ingest_reconnects_total",
    "tds_ingest_database_up",
    "tds_ingest_database_retries_total",
    "tds_ingest_takeovers_total",
]


def test_health_endpoints_metrics_and_logs_of_a_running_writer(rig: IngestRig) -> None:
    writer = rig.writer("a").start().wait_ready()
    code, body = writer.health("/health")
    assert code == 200
    assert body["status"] == "ok" and body["instance"] == f"{rig.tenant}-a" and body["mode"] == "shared"
    assert body["standby"] is False and body["mqtt"] == {"connected": True}
    assert body["database"] == {"ok": True, "error": None}
    assert body["queue_depth"] == 0 and body["last_commit_at"] is None and body["stalled_s"] is None
    assert writer.health("/health/mqtt") == (200, {"connected": True, "standby": False})
    assert writer.health("/health/database") == (200, {"ok": True, "error": None})
    assert writer.health("/no/such/page")[0] == 404

    pub = rig.publisher()
    now = datetime.now(UTC).replace(microsecond=0)
    mids = [pub.publish(rig.topic("ch-1"), v1({"temp": 1.0}, now)), pub.publish(rig.topic("ch-1"), b"not json")]
    assert len(pub.wait_acked(mids)) == 2
    wait_until(lambda: writer.metric("tds_ingest_messages_total") == 2, 10, "both messages are committed")
    code, body = writer.health("/health")
    assert code == 200 and body["last_commit_at"] is not None and body["seconds_since_commit"] < 10

    samples = {name for name, _labels in writer.metrics()}
    missing = [name for name in DOCUMENTED_METRICS if name not in samples]
    assert not missing, f"/metrics lacks {missing}"
    assert writer.metric("tds_ingest_messages_total", kind="telem", outcome="landed") == 1
    assert writer.metric("tds_ingest_messages_total", kind="unknown", outcome="dead_letter") == 1
    assert writer.metric("tds_ingest_dead_letters_total", reason="invalid_json") == 1
    assert writer.metric("tds_ingest_points_total") == 1
    assert writer.metric("tds_ingest_publish_to_commit_seconds_count") == 1
    assert writer.metric("tds_ingest_mqtt_connected", session="own") == 1
    assert writer.metric("tds_ingest_database_up") == 1
    assert writer.metric("tds_ingest_queue_depth") == 0

    writer.stop()
    password = urlsplit(rig.stack.writer_mqtt_url()).password
    assert password
    lines = writer.log_path.read_text().splitlines()
    assert lines and password not in writer.log_path.read_text(), "credentials must never be logged"
    entries = [json.loads(line) for line in lines]
    assert {entry["instance"] for entry in entries} == {f"{rig.tenant}-a"}
    assert any(entry["event"] == "starting" and "***" in entry["mqtt"] for entry in entries)


def test_recent_data_reports_ok_warning_and_critical_by_the_age_of_the_newest_reading(rig: IngestRig) -> None:
    writer = rig.writer("a", TDS_RECENT_DATA_WARNING_S="30", TDS_RECENT_DATA_CRITICAL_S="120").start().wait_ready()
    code, body = writer.health("/health/recent-data")
    assert (code, body["status"], body["seconds_since_newest"]) == (503, "critical", None), "nothing landed yet"

    pub = rig.publisher()
    assert pub.wait_acked([pub.publish(rig.topic("ch-1"), v1({"temp": 1.0}, datetime.now(UTC)))])
    assert rig.wait_for_rows(1, timeout_s=10) == 1
    wait_until(lambda: writer.health("/health/recent-data")[0] == 200, 10, "the newest reading counts as recent")
    code, body = writer.health("/health/recent-data")
    assert body["status"] == "ok" and body["seconds_since_newest"] < 30
    assert (body["warning_s"], body["critical_s"]) == (30, 120)

    def verdict() -> tuple[int, str]:
        code, body = writer.health("/health/recent-data")
        return code, body["status"]

    for age_s, expected in ((60, (200, "warning")), (300, (503, "critical")), (5, (200, "ok"))):
        rig.query("UPDATE tds.equipment SET last_seen = now() - make_interval(secs => %s) RETURNING 1", age_s)
        # The answer is the database's of at most HealthServer.RECENT_DATA_EVERY_S ago.
        wait_until(lambda expected=expected: verdict() == expected, 5, f"a reading {age_s}s old is {expected}")
        code, body = writer.health("/health/recent-data")
        assert abs(body["seconds_since_newest"] - age_s) < 5


def _sessions(rig: IngestRig) -> int:
    """Connections ever opened to the test's database (PostgreSQL counts them when they end)."""
    return int(rig.query("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0][0])


def test_recent_data_does_not_open_a_database_connection_per_request(rig: IngestRig) -> None:
    """Anyone who reaches the health port could make the writer open connection after connection."""
    writer = rig.writer("a").start().wait_ready()
    before = _sessions(rig)
    for _ in range(40):
        assert writer.health("/health/recent-data")[0] == 503  # nothing landed yet
    time.sleep(0.5)
    assert _sessions(rig) - before <= 3, "at most one question to the database every couple of seconds"


def _grant_landing(rig: IngestRig, allowed: bool) -> None:
    """Take INSERT on the readings from the writer's role, or give it back. Without it every batch is
    refused and retried, unacknowledged, while the database answers every ping."""
    statement = "GRANT INSERT ON tds.telemetry_raw TO tds_writer" if allowed else \
        "REVOKE INSERT ON tds.telemetry_raw FROM tds_writer"
    with psycopg.connect(admin_url(rig.database_url), autocommit=True) as conn:
        conn.execute(statement)


def _health_over(writer: WriterProcess, seconds: float) -> list[tuple[int, dict]]:
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers.append(writer.health())
        time.sleep(0.25)
    return answers


def test_health_is_degraded_while_messages_wait_uncommitted_whatever_a_ping_says(rig: IngestRig) -> None:
    """A batch retried forever with the database answering pings showed /health 200 "database ok"."""
    _grant_landing(rig, allowed=False)
    writer = rig.writer("a", TDS_STALLED_AFTER_S="2").start().wait_ready()
    pub = rig.publisher()
    assert pub.wait_acked([pub.publish(rig.topic("ch-1"), v1({"temp": 1.0}, BASE_TS))])
    wait_until(lambda: writer.health()[1]["queue_depth"] == 1, 10, "the writer holds the message")
    time.sleep(2.5)
    answers = _health_over(writer, 12)  # longer than the idle probe's period and the write backoff
    assert all(code == 503 and body["status"] == "degraded" and body["stalled_s"] >= 2 for code, body in answers), \
        [(code, body["database"], body.get("stalled_s")) for code, body in answers if code != 503]

    _grant_landing(rig, allowed=True)
    assert rig.wait_for_rows(1, timeout_s=30) == 1
    wait_until(lambda: writer.health()[0] == 200, 15, "the writer is healthy once the batch committed")
    assert writer.health()[1]["stalled_s"] is None


def test_the_writer_holds_at_most_its_byte_bound_of_uncommitted_payloads(rig: IngestRig) -> None:
    """The bound counted messages only: 8 x 48 MB messages took the writer from 110 MB to ~790 MB."""
    _grant_landing(rig, allowed=False)
    writer = rig.writer("a", TDS_MAX_UNCOMMITTED_BYTES=str(1_000_000)).start().wait_ready()
    pub = rig.publisher()
    padding = "x" * 100_000
    mids = [pub.publish(rig.topic("ch-1"), json.dumps({
        "schema": "v1", "ts": (BASE_TS.replace(second=i)).isoformat(), "points": [{"name": "temp", "v": i}],
        "meta": {"pad": padding}}).encode()) for i in range(30)]
    assert pub.wait_acked(mids) == set(mids)
    wait_until(lambda: writer.health()[1]["queue_depth"] >= 5, 10, "the writer holds some")
    held = []
    for _ in range(8):
        held.append(writer.health()[1]["queue_depth"])
        time.sleep(0.5)
    assert max(held) <= 11, f"held {held} messages of ~100 kB against a bound of 1 MB"

    _grant_landing(rig, allowed=True)
    assert rig.wait_for_rows(30, timeout_s=60) == 30


def test_health_is_read_only_and_answers_while_data_flows(rig: IngestRig) -> None:
    """Probing every endpoint during ingestion neither blocks it nor changes what lands."""
    writer = rig.writer("a").start().wait_ready()
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 600, per_second=600)
    while run.published < 600:
        for path in ("/health", "/health/mqtt", "/health/database", "/health/recent-data"):
            assert writer.health(path)[0] in (200, 503)  # recent-data is 503 until the first reading
        with urllib.request.urlopen(f"http://127.0.0.1:{writer.http_port}/metrics", timeout=2) as response:
            assert response.status == 200 and response.read()
    sent = run.join()
    acked = pub.wait_acked(list(sent))
    assert len(acked) == 600
    assert rig.wait_for_rows(600) == 600
    rig.assert_exactly_once(sent, acked)


def test_an_idle_writer_probes_the_database_instead_of_trusting_its_last_commit() -> None:
    from ingest_stream.receiver.health import HealthServer, HealthState
    from ingest_stream.receiver.metrics import IngestMetrics

    down = {"now": True}

    def ping() -> None:
        if down["now"]:
            raise OSError("connection refused")

    state = HealthState(instance_id="w", mode="shared", mqtt_connected=lambda: True)
    server = HealthServer("127.0.0.1", 0, state, IngestMetrics(), lambda: None, 300, 1800, ping_database=ping)
    code, body, _ = server.route("/health/database")
    assert code == 503
    assert json.loads(body) == {"ok": False, "error": "connection refused"}
    down["now"] = False
    server._last_probe = 0.0  # past the rate limit
    code, body, _ = server.route("/health")
    assert code == 200
    assert json.loads(body)["database"] == {"ok": True, "error": None}
    server.server.server_close()
