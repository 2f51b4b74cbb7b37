"""The alert store (one open row per incident), the delivery outbox and the sinks, against a real
database, a real HTTP receiver and a real SMTP server (aiosmtpd)."""

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tds_platform.alerting.delivery import Deliverer, retry_delay_s
from tds_platform.alerting.model import Alert, Notification, Severity, Transition
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.alerting.sinks import EmailSink, FileSink, LogSink, SinkError, WebhookSink, sinks_from_settings
from tds_platform.alerting.store import AlertStore
from tds_platform.db.engine import engine_for

ALERT = Alert(kind="freshness", severity=Severity.WARNING, dedup_key="freshness:acme:pump-1",
              subject="acme/pump-1 is silent", message="no reading for 5 minutes",
              details={"tenant": "acme", "equipment": "pump-1"})
WORSE = Alert(kind=ALERT.kind, severity=Severity.CRITICAL, dedup_key=ALERT.dedup_key, subject=ALERT.subject,
              message="no reading for 40 minutes", details=ALERT.details)


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dedup_key, resolved_at IS NULL FROM tds.alerts ORDER BY id").fetchall()


def outbox(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT transition, revision, sink, delivered_at IS NOT NULL, attempts "
                            "FROM tds.alert_notifications ORDER BY id").fetchall()


def both_sinks(webhook, smtp, **overrides) -> AlertSettings:
    return AlertSettings(webhook_url=webhook.url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                         email_to="ops@example.com, oncall@example.com", email_from="tds@example.com", **overrides)


def test_one_open_row_per_incident_and_a_new_one_after_resolution(database_url: str) -> None:
    store = AlertStore(engine_for(database_url))
    first, opened = store.open(ALERT)
    again, opened_again = store.open(ALERT)
    assert (opened, opened_again) == (True, False)
    assert again.id == first.id and again.last_seen_at >= first.last_seen_at
    assert store.open_keys("freshness") == {ALERT.dedup_key}
    resolved = store.resolve(ALERT.dedup_key)
    assert resolved is not None and resolved.resolved_at is not None
    assert store.resolve(ALERT.dedup_key) is None
    reopened, opened = store.open(ALERT)
    assert opened and reopened.id != first.id
    assert rows(database_url) == [(ALERT.dedup_key, False), (ALERT.dedup_key, True)]
    recent = store.recent(datetime.now(UTC) - timedelta(hours=1))
    assert [r.is_open for r in recent] == [True, False]


def test_an_alerts_whole_life_reaches_mail_and_webhook_once_per_state(database_url: str, webhook, smtp) -> None:
    service = AlertService.from_settings(engine_for(database_url), both_sinks(webhook, smtp))
    assert service.open(ALERT) is not None
    assert service.open(ALERT) is None  # repeat, same state: stored, not re-sent
    assert service.open(WORSE) is None  # escalated: an update
    assert service.open(WORSE) is None
    assert service.resolve(ALERT.dedup_key) is not None
    assert service.resolve(ALERT.dedup_key) is None

    assert [(b["transition"], b["severity"], b["revision"]) for b in webhook.bodies] == [
        ("opened", "warning", 0), ("updated", "critical", 1), ("resolved", "critical", 1)]
    assert [b["text"] for b in webhook.bodies] == [
        "[WARNING] acme/pump-1 is silent: no reading for 5 minutes",
        "[CRITICAL, updated] acme/pump-1 is silent: no reading for 40 minutes",
        "[RESOLVED] acme/pump-1 is silent: over after 0 min (last seen: no reading for 40 minutes)"]
    assert webhook.bodies[0]["details"] == {"tenant": "acme", "equipment": "pump-1"}
    assert webhook.bodies[0]["resolved_at"] is None and webhook.bodies[2]["resolved_at"]
    assert len({b["notification_id"] for b in webhook.bodies}) == 3
    assert webhook.content_types == ["application/json"] * 3

    assert [m["Subject"] for m in smtp.messages] == [
        "[WARNING] acme/pump-1 is silent", "[CRITICAL, updated] acme/pump-1 is silent",
        "[RESOLVED] acme/pump-1 is silent"]
    assert all(m["To"] == "ops@example.com, oncall@example.com" for m in smtp.messages)
    assert "no reading for 40 minutes" in smtp.messages[1].get_payload()
    assert "transition: resolved (revision 1)" in smtp.messages[2].get_payload()
    assert len({m["Message-ID"] for m in smtp.messages}) == 3
    assert all(delivered for *_, delivered, _ in outbox(database_url))


def test_a_sink_that_is_down_gets_everything_once_and_in_order_when_back(database_url: str, webhook, smtp) -> None:
    webhook.status = 503
    smtp.stop()
    settings = both_sinks(webhook, smtp, retry_base_s=0.5, retry_max_s=2)
    service = AlertService.from_settings(engine_for(database_url), settings)
    service.open(ALERT)
    service.resolve(ALERT.dedup_key)
    assert webhook.bodies == [] and smtp.messages == []
    # The open was tried once per sink and failed; its resolve waits behind it (never overtakes it).
    assert outbox(database_url) == [("opened", 0, "log", True, 1), ("opened", 0, "webhook", False, 1),
                                    ("opened", 0, "email", False, 1), ("resolved", 0, "log", True, 1),
                                    ("resolved", 0, "webhook", False, 0), ("resolved", 0, "email", False, 0)]
    assert service.deliver().delivered == 0  # backoff: not due yet
    assert webhook.refused == 1

    time.sleep(0.6)
    still_down = service.deliver()  # due again, still down: counted, backoff doubles
    assert still_down.failed.keys() == {"webhook", "email"} and still_down.pending == 4
    assert "HTTP 503" in still_down.failed["webhook"] and "127.0.0.1" in still_down.failed["email"]

    webhook.status = 200
    smtp.start()
    deadline = time.monotonic() + 10
    while outbox(database_url) and not all(r[3] for r in outbox(database_url)) and time.monotonic() < deadline:
        service.deliver()
        time.sleep(0.2)
    assert [b["transition"] for b in webhook.bodies] == ["opened", "resolved"]
    assert [m["Subject"].split("]")[0] for m in smtp.messages] == ["[WARNING", "[RESOLVED"]
    assert [attempts for *_, attempts in outbox(database_url)] == [1, 3, 3, 1, 1, 1]
    assert service.deliver().delivered == 0  # nothing is sent twice


def test_two_deliverers_never_send_the_same_notification(database_url: str, webhook) -> None:
    engine = engine_for(database_url)
    store = AlertStore(engine, ["webhook"])
    for n in range(30):
        store.open(Alert(kind="test", severity=Severity.WARNING, dedup_key=f"k{n}", subject=f"s{n}", message="m"))
    deliverers = [Deliverer(engine, [WebhookSink(webhook.url, 5)], AlertSettings()) for _ in range(2)]
    threads = [threading.Thread(target=d.deliver_due) for d in deliverers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(b["dedup_key"] for b in webhook.bodies) == sorted(f"k{n}" for n in range(30))


def test_resolve_waits_for_the_hold_so_flapping_notifies_nobody(database_url: str, webhook) -> None:
    service = AlertService(engine_for(database_url), [WebhookSink(webhook.url, 5)])
    hold = timedelta(seconds=1)
    service.open(ALERT)
    for _ in range(3):  # clear, back, clear, back ... within the hold
        assert service.resolve(ALERT.dedup_key, hold) is None
        assert service.open(ALERT) is None
    assert service.resolve(ALERT.dedup_key, hold) is None
    time.sleep(1.1)
    assert service.resolve(ALERT.dedup_key, hold) is not None
    assert [b["transition"] for b in webhook.bodies] == ["opened", "resolved"]
    assert rows(database_url) == [(ALERT.dedup_key, False)]


def test_failed_delivery_is_logged_without_the_secret_and_the_alert_is_still_stored(
    database_url: str, webhook, caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.status = 500
    sink = WebhookSink(webhook.url, 5)
    service = AlertService(engine_for(database_url), [sink, LogSink()])
    with caplog.at_level(logging.WARNING, logger="tds.alerts"):
        assert service.open(ALERT) is not None
    assert rows(database_url) == [(ALERT.dedup_key, True)]
    assert "not delivered by webhook: webhook answered HTTP 500 (attempt 1; next try in 30 s)" in caplog.text
    assert "[WARNING] acme/pump-1 is silent" in caplog.text  # the log sink still spoke
    assert "secret-token" not in caplog.text and "secret-token" not in repr(sink)


def test_unreachable_webhook_is_a_sink_error_without_the_url(database_url: str) -> None:
    store = AlertStore(engine_for(database_url))
    record, _ = store.open(ALERT)
    with pytest.raises(SinkError, match="unreachable") as err:
        WebhookSink("http://127.0.0.1:9/hooks/secret-token", 2).send(Notification(Transition.OPENED, record))
    assert "secret-token" not in str(err.value)


def test_email_reaches_an_smtp_server(database_url: str, smtp) -> None:
    settings = AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, email_to="ops@example.com",
                             email_from="tds@example.com")
    service = AlertService(engine_for(database_url), [EmailSink(settings)])
    service.open(Alert(kind="fleet_silence", severity=Severity.CRITICAL, dedup_key="fleet_silence",
                       subject="no data from any equipment", message="is the writer down?"))
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["Subject"] == "[CRITICAL] no data from any equipment"
    assert mail["From"] == "tds@example.com" and mail["To"] == "ops@example.com"
    assert "is the writer down?" in mail.get_payload()


def test_file_sink_appends_one_json_line_per_notification(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "alerts.jsonl"
    service = AlertService(engine_for(database_url), [FileSink(path)])
    service.open(ALERT)
    service.resolve(ALERT.dedup_key)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["transition"], line["dedup_key"]) for line in lines] == [
        ("opened", ALERT.dedup_key), ("resolved", ALERT.dedup_key)]


def test_sinks_follow_the_settings(tmp_path: Path) -> None:
    assert [s.name for s in sinks_from_settings(AlertSettings())] == ["log"]
    configured = AlertSettings(webhook_url="http://hooks.example/x", smtp_host="mail", email_to="ops@example.com",
                               file=tmp_path / "a.jsonl")
    assert [s.name for s in sinks_from_settings(configured)] == ["log", "file", "webhook", "email"]
    assert "hooks.example" not in repr(configured)
    assert [s.name for s in sinks_from_settings(AlertSettings(smtp_host="mail"))] == ["log"]  # nobody to mail


def test_retry_delay_doubles_up_to_the_cap() -> None:
    settings = AlertSettings(retry_base_s=30, retry_max_s=300)
    assert [retry_delay_s(n, settings) for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]


def test_repeats_of_an_open_incident_queue_nothing(database_url: str) -> None:
    store = AlertStore(engine_for(database_url), ["log", "webhook"])
    for _ in range(5):
        store.open(ALERT)
    store.resolve(ALERT.dedup_key)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, transition FROM tds.alert_notifications ORDER BY id").fetchall()
    # One per state and sink, numbered without holes: the repeats drew no identity values.
    assert rows == [(1, "opened"), (2, "opened"), (3, "resolved"), (4, "resolved")]
