"""`tds status` over a real database and broker, with a writer health endpoint served by the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg
import pytest
from click.testing import CliRunner

from tds_platform.cli.main import cli
from tds_platform.stack import LocalStack


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "queue_depth": 3, "seconds_since_commit": 1.5}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def health_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _seed(url: str, health_url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO tds.ingest_members (mqtt_group, instance_id, client_id, health_url) "
                     "VALUES ('g', 'w-1', 'c-1', %s), ('g', 'w-2', 'c-2', 'http://127.0.0.1:1')", (health_url,))
        conn.execute("UPDATE tds.ingest_members SET heartbeat_at = now() - interval '1 hour', state = 'stopped' "
                     "WHERE instance_id = 'w-2'")
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, last_seen) VALUES "
                     "('acme', 'ch-1', now() - interval '30 seconds'), ('acme', 'ch-2', now() - interval '3 hours')")
        conn.execute("INSERT INTO tds.alerts (kind, severity, dedup_key, subject, message) "
                     "VALUES ('freshness', 'critical', 'k', 'acme/ch-2 silent', 'no data for 3 h')")
        conn.execute("INSERT INTO tds.dlq (topic, payload, reason) VALUES ('t', '\\x00', 'invalid_json'), "
                     "('t', '\\x01', 'invalid_json')")


def test_status_shows_every_component(stack: LocalStack, timescale_database: str, health_url: str,
                                     request: pytest.FixtureRequest) -> None:
    database_url = timescale_database
    _seed(database_url, health_url)
    result = CliRunner().invoke(cli, ["status", "--database-url", database_url,
                                      "--mqtt-url", f"mqtt://127.0.0.1:{stack.layout.mqtt_port}"])
    out = result.output
    assert result.exit_code == 0, out
    assert f"127.0.0.1:{stack.layout.mqtt_port}  up" in out
    assert f"edition={request.node.callspec.params['timescale_database']}" in out
    assert "g/w-1" in out and "ok" in out and "queue=3" in out
    assert "g/w-2" in out and "stopped" in out
    assert "acme" in out and "2 equipment" in out and "newest 30s ago" in out
    assert "open alerts: 1" in out and "[critical] freshness: acme/ch-2 silent" in out
    assert "dead letters: 2 last hour" in out and "invalid_json 2" in out
    assert "last quality run: never" in out


def test_status_reports_a_down_database_and_broker_and_exits_1(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["status", "--database-url", "postgresql://postgres@127.0.0.1:1/tds",
                                      "--mqtt-url", "mqtt://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "broker     127.0.0.1:1  DOWN" in result.output
    assert "database   DOWN" in result.output
    assert "Traceback" not in result.output


def test_status_json_is_machine_readable(stack: LocalStack, timescale_database: str, health_url: str,
                                        request: pytest.FixtureRequest) -> None:
    database_url = timescale_database
    _seed(database_url, health_url)
    result = CliRunner().invoke(cli, ["status", "--json", "--database-url", database_url,
                                      "--mqtt-url", f"mqtt://127.0.0.1:{stack.layout.mqtt_port}"])
    data = json.loads(result.output)
    assert data["database"]["edition"] == request.node.callspec.params["timescale_database"]
    assert [w["instance"] for w in data["writers"]] == ["w-1", "w-2"]
    assert data["dlq"]["pending"] == 2


def _seed_quality(url: str) -> None:
    """Two equipment of acme over the last 24 h: pump-1 at 80 % coverage, ch-1 whole but 10 % bad."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, last_seen) VALUES ('acme', 'pump-1', now()),"
                     " ('acme', 'ch-1', now()), ('globex', 'm-1', now()) ON CONFLICT DO NOTHING")
        conn.execute("""
            INSERT INTO tds.quality_hourly (hour, tenant, equipment, metric, expected, received, good,
                                            coverage_pct, good_pct)
            SELECT date_trunc('hour', now()) - h * interval '1 hour', tenant, equipment, 'flow', 360, received,
                   good, 100 * received / 360.0, 100 * good::float8 / received
            FROM generate_series(1, 30) AS h,
                 (VALUES ('acme', 'pump-1', 288, 288), ('acme', 'ch-1', 360, 324))
                     AS f(tenant, equipment, received, good)
        """)
        conn.execute("INSERT INTO tds.gaps (tenant, equipment, metric, gap_start) "
                     "VALUES ('acme', 'pump-1', 'flow', now() - interval '25 minutes')")
        conn.execute("INSERT INTO tds.alerts (kind, severity, dedup_key, subject, message, details, revision) "
                     "VALUES ('quality_gap', 'critical', 'quality_gap:acme:pump-1', 'acme/pump-1: open gap', 'm', "
                     "'{\"tenant\": \"acme\", \"equipment\": \"pump-1\"}', 1)")
        conn.execute("INSERT INTO tds.alert_notifications (alert_id, transition, revision, sink, alert, attempts, "
                     "last_error) SELECT id, 'opened', 0, 'webhook', '{}', 3, 'webhook answered HTTP 503' "
                     "FROM tds.alerts WHERE kind = 'quality_gap'")


def test_status_shows_each_tenants_data_health(stack: LocalStack, database_url: str, health_url: str) -> None:
    _seed(database_url, health_url)
    _seed_quality(database_url)
    args = ["status", "--database-url", database_url, "--mqtt-url", f"mqtt://127.0.0.1:{stack.layout.mqtt_port}"]
    out = CliRunner().invoke(cli, args).output
    acme = next(line for line in out.splitlines() if line.startswith("  acme"))
    # 24 hours of each: (288 + 360) / 720 expected, (288 + 324) / 648 received good.
    assert "coverage  90.0%" in acme and "good  94.4%" in acme
    assert "worst pump-1 (80.0%)" in acme and "open gaps 1" in acme and "open alerts 1" in acme
    assert "coverage      -  good      -  worst -" in next(line for line in out.splitlines()
                                                         if line.startswith("  globex"))
    assert "open gaps: 1" in out and "acme/pump-1/flow  silent since" in out and "(25m)  backfill none" in out
    assert "[critical] quality_gap: acme/pump-1: open gap" in out and "updated 1x" in out
    assert "alert delivery webhook  0 delivered, 1 waiting" in out and "last error: webhook answered HTTP 503" in out
    assert "3 failed attempts" in out

    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    tenants = {t["tenant"]: t for t in data["tenants"]}
    assert round(tenants["acme"]["coverage_pct"], 1) == 90.0 and tenants["acme"]["worst_equipment"] == "pump-1"
    assert tenants["acme"]["open_gaps"] == 1 and tenants["acme"]["open_alerts"] == 1
    assert [(g["equipment"], g["metric"]) for g in data["open_gaps"]] == [("pump-1", "flow")]
    assert data["alert_delivery"][0]["sink"] == "webhook" and data["alert_delivery"][0]["pending"] == 1
