"""The compose deployment's other alert path, on the real servers: Prometheus evaluates the shipped
writer rules and fires into Alertmanager, configured from TDS_ALERT_* by the shipped script, which
notifies the same webhook (Slack-compatible JSON) and mail server as Dagster's alerts.

Only timing differs from production (rules without `for:`, 1 s intervals and re-sends) so the test
takes seconds.
Here beside the other sink tests because it uses the same real receivers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import yaml

from tds_platform.stack.layout import free_port

REPO = Path(__file__).resolve().parents[4]
RENDER = REPO / "deploy" / "alertmanager" / "render-config.sh"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"


def binary(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    pytest.fail(f"{names[0]} is not installed: `make test` installs it (scripts/install-system.sh test)")


def render(env: dict[str, str]) -> str:
    result = subprocess.run(["sh", str(RENDER)], env={"PATH": os.environ["PATH"], **env}, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("sinks", [
    {},
    {"TDS_ALERT_WEBHOOK_URL": "https://hooks.example/services/T0/B0/it's-secret"},
    {"TDS_ALERT_SMTP_HOST": "mail.example.com", "TDS_ALERT_EMAIL_TO": "ops@example.com",
     "TDS_ALERT_SMTP_USER": "tds", "TDS_ALERT_SMTP_PASSWORD": "p'w\"d", "TDS_ALERT_SMTP_STARTTLS": "true"},
])
def test_rendered_configuration_is_valid_for_any_choice_of_sinks(sinks: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(render(sinks))
    check = subprocess.run([binary("amtool"), "check-config", str(config)], capture_output=True, text=True,
                           timeout=30, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    receiver = yaml.safe_load(config.read_text())["receivers"][0]
    assert bool(receiver.get("slack_configs")) == ("TDS_ALERT_WEBHOOK_URL" in sinks)
    assert bool(receiver.get("email_configs")) == ("TDS_ALERT_SMTP_HOST" in sinks)
    if "TDS_ALERT_WEBHOOK_URL" in sinks:  # quotes in a secret survive
        assert receiver["slack_configs"][0]["api_url"] == sinks["TDS_ALERT_WEBHOOK_URL"]
    if "TDS_ALERT_SMTP_PASSWORD" in sinks:
        assert yaml.safe_load(config.read_text())["global"]["smtp_auth_password"] == sinks["TDS_ALERT_SMTP_PASSWORD"]


def test_shipped_rules_and_configuration_pass_promtool(tmp_path: Path) -> None:
    promtool = binary("promtool")
    rules = subprocess.run([promtool, "check", "rules", str(PROMETHEUS_DIR / "rules.yml")], capture_output=True,
                           text=True, timeout=30, check=False)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["rule_files"] = [str(PROMETHEUS_DIR / "rules.yml")]  # mounted at /etc/prometheus in compose
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                             text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


class Writer:
    """A stand-in stream writer's /metrics: down until `start()`, then connected to its broker."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        class Metrics(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"tds_ingest_mqtt_connected 1\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Metrics)
        Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _serve(argv: list[str], log: Path, ready_url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready_url, timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"{argv[0]} did not start: {log.read_text()[-2000:]}")


@pytest.fixture
def writer() -> Iterator[Writer]:
    stand_in = Writer()
    yield stand_in
    stand_in.stop()


def titled(bodies: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Alertmanager's Slack messages whose title starts with `prefix`."""
    return [b for b in bodies if b["attachments"][0]["title"].startswith(prefix)]


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_a_writer_rule_fires_and_resolves_through_alertmanager_to_webhook_and_mail(
    tmp_path: Path, webhook, smtp, writer: Writer,
) -> None:
    am_port, prom_port = free_port(), free_port()
    am_config = yaml.safe_load(render({"TDS_ALERT_WEBHOOK_URL": webhook.url, "TDS_ALERT_SMTP_HOST": "127.0.0.1",
                                       "TDS_ALERT_SMTP_PORT": str(smtp.port), "TDS_ALERT_EMAIL_TO": "ops@example.com",
                                       "TDS_ALERT_EMAIL_FROM": "alertmanager@example.com"}))
    am_config["route"].update(group_wait="1s", group_interval="1s")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))

    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    prometheus = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    prometheus["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    prometheus["rule_files"] = [str(tmp_path / "rules.yml")]
    prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{am_port}"]
    prometheus["scrape_configs"] = [{"job_name": "tds-ingest", "static_configs": [
        {"targets": [f"127.0.0.1:{writer.port}"]}]}]  # compose finds the replicas by DNS instead
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus))

    processes = [
        _serve([binary("prometheus-alertmanager", "alertmanager"), f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address="],
               tmp_path / "alertmanager.log", f"http://127.0.0.1:{am_port}/-/ready"),
        _serve([binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
                # An alert that fired before Prometheus had found Alertmanager is re-sent after this.
                "--rules.alert.resend-delay=1s"],
               tmp_path / "prometheus.log", f"http://127.0.0.1:{prom_port}/-/ready"),
    ]
    try:
        firing = wait_for(lambda: titled(webhook.bodies, "[FIRING] TdsNoWriterRunning"),
                          "the firing alert at the webhook")
        wait_for(lambda: smtp.messages, "the firing alert by mail")
        writer.start()  # the writer is back: the rule resolves
        resolved = wait_for(lambda: titled(webhook.bodies, "[RESOLVED] TdsNoWriterRunning"),
                            "the resolved alert at the webhook")
        mails = wait_for(lambda: [m for m in smtp.messages if "RESOLVED" in m["Subject"]],
                         "the resolved alert by mail")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)

    # No writer at all: the critical rule (and the per-writer one, TdsWriterDown, beside it).
    assert firing[0]["attachments"][0]["title"] == "[FIRING] TdsNoWriterRunning (critical)"
    assert "No stream writer is being scraped" in firing[0]["attachments"][0]["text"]
    assert "Runbook: docker compose ps ingest" in firing[0]["attachments"][0]["text"]
    assert resolved[0]["attachments"][0]["title"] == "[RESOLVED] TdsNoWriterRunning (critical)"
    assert any("FIRING" in m["Subject"] and "TdsNoWriterRunning" in m["Subject"] for m in smtp.messages)
    assert any("TdsNoWriterRunning" in m["Subject"] for m in mails)
    assert {m["To"] for m in smtp.messages} == {"ops@example.com"}
