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
