"""The alert store (one open row per incident) and the sinks, against a real database and receivers."""

import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tds_platform.alerting.model import Alert, Notification, Severity, Transition
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.alerting.sinks import EmailSink, LogSink, SinkError, WebhookSink, sinks_from_settings
from tds_platform.alerting.store import AlertStore
from tds_platform.db.engine import engine_for

ALERT = Alert(kind="freshness", severity=Severity.WARNING, dedup_key="freshness:acme:pump-1",
              subject="acme/pump-1 is silent", message="no reading for 5 minutes", details={"equipment": "pump-1"})


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dedup_key, resolved_at IS NULL FROM tds.alerts ORDER BY id").fetchall()


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


def test_webhook_gets_slack_text_and_structured_fields_once_per_transition(database_url: str, webhook) -> None:
    service = AlertService(AlertStore(engine_for(database_url)), [WebhookSink(webhook.url, 5)])
    assert service.open(ALERT) is not None
    assert service.open(ALERT) is None  # repeat: stored, not re-sent
    service.resolve(ALERT.dedup_key)
    service.resolve(ALERT.dedup_key)
    assert [body["transition"] for body in webhook.bodies] == ["opened", "resolved"]
    opened = webhook.bodies[0]
    assert opened["text"] == "[WARNING] acme/pump-1 is silent: no reading for 5 minutes"
    assert opened["severity"] == "warning" and opened["dedup_key"] == ALERT.dedup_key
    assert opened["details"] == {"equipment": "pump-1"}
    assert webhook.bodies[1]["text"].startswith("[RESOLVED]") and webhook.bodies[1]["resolved_at"]
    assert webhook.content_types == ["application/json"] * 2


def test_failed_delivery_is_logged_without_the_secret_and_the_alert_is_still_stored(
    database_url: str, webhook, caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.status = 500
    sink = WebhookSink(webhook.url, 5)
    service = AlertService(AlertStore(engine_for(database_url)), [sink, LogSink()])
    with caplog.at_level(logging.WARNING, logger="tds.alerts"):
        assert service.open(ALERT) is not None
    assert rows(database_url) == [(ALERT.dedup_key, True)]
    assert "not delivered by webhook: webhook answered HTTP 500" in caplog.text
    assert "[WARNING] acme/pump-1 is silent" in caplog.text  # the log sink still spoke
    assert "secret-token" not in caplog.text and "secret-token" not in repr(sink)


def test_unreachable_webhook_is_a_sink_error_without_the_url(database_url: str) -> None:
    store = AlertStore(engine_for(database_url))
    record, _ = store.open(ALERT)
    with pytest.raises(SinkError, match="unreachable") as err:
        WebhookSink("http://127.0.0.1:9/hooks/secret-token", 2).send(Notification(Transition.OPENED, record))
    assert "secret-token" not in str(err.value)


def test_email_reaches_an_smtp_server(database_url: str, smtp) -> None:
    settings = AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, email_to="ops@example.com, oncall@example.com",
                             email_from="tds@example.com")
    service = AlertService(AlertStore(engine_for(database_url)), [EmailSink(settings)])
    service.open(Alert(kind="fleet_silence", severity=Severity.CRITICAL, dedup_key="fleet_silence",
                       subject="no data from any equipment", message="is the writer down?"))
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["Subject"] == "[CRITICAL] no data from any equipment"
    assert mail["To"] == "ops@example.com, oncall@example.com"
    assert "is the writer down?" in mail.get_payload()


def test_sinks_follow_the_settings() -> None:
    assert [s.name for s in sinks_from_settings(AlertSettings())] == ["log"]
    configured = AlertSettings(webhook_url="http://hooks.example/x", smtp_host="mail", email_to="ops@example.com")
    assert [s.name for s in sinks_from_settings(configured)] == ["log", "webhook", "email"]
    assert "hooks.example" not in repr(configured)
    assert [s.name for s in sinks_from_settings(AlertSettings(smtp_host="mail"))] == ["log"]  # nobody to mail
