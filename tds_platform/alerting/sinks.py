"""Where a notification goes: the log, a JSON-lines file, a webhook (Slack-compatible JSON), e-mail.

Each sink delivers one notification or raises SinkError with a message that is safe to log; a
sink must never put its webhook URL or SMTP password into a message or an exception.
"""

from __future__ import annotations

import logging
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import orjson

from tds_platform.alerting.model import Notification, Severity, Transition
from tds_platform.alerting.settings import AlertSettings

logger = logging.getLogger("tds.alerts")


class SinkError(Exception):
    """A delivery failed; the text names the sink and the reason, never a secret."""


class Sink(Protocol):
    name: str

    def send(self, notification: Notification) -> None: ...


def payload(notification: Notification) -> dict[str, Any]:
    """Slack reads `text`; other receivers get the structured fields beside it."""
    alert = notification.alert
    return {
        "text": notification.summary(),
        "notification_id": notification.id,
        "transition": notification.transition.value,
        "revision": alert.revision,
        "kind": alert.kind,
        "severity": alert.severity.value,
        "dedup_key": alert.dedup_key,
        "subject": alert.subject,
        "message": alert.message,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "details": alert.details,
    }


class LogSink:
    name = "log"

    def __init__(self, log: logging.Logger | logging.LoggerAdapter = logger) -> None:
        self.log = log

    def send(self, notification: Notification) -> None:
        line = f"{notification.summary()} (key {notification.alert.dedup_key})"
        if notification.transition is Transition.RESOLVED:
            self.log.info(line)
        elif notification.alert.severity is Severity.CRITICAL:
            self.log.error(line)
        else:
            self.log.warning(line)


class FileSink:
    """One JSON object per line (the webhook's body): a local sink anyone can `tail -f`."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, notification: Notification) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as out:
                out.write(orjson.dumps(payload(notification), default=str) + b"\n")
        except OSError as exc:
            raise SinkError(f"alert file {self.path} not writable ({exc.strerror or exc})") from None


class WebhookSink:
    name = "webhook"

    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return "WebhookSink(<url hidden>)"

    def send(self, notification: Notification) -> None:
        request = urllib.request.Request(
            self._url, data=orjson.dumps(payload(notification), default=str),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise SinkError(f"webhook answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SinkError(f"webhook unreachable ({reason})") from None


class EmailSink:
    name = "email"

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def message(self, notification: Notification) -> EmailMessage:
        alert = notification.alert
        mail = EmailMessage()
        mail["Subject"] = notification.headline()
        if notification.id is not None:  # the same id on a retry: mail clients can tell it is one message
            mail["Message-ID"] = f"<tds-alert-{notification.id}@{self.settings.email_from.rpartition('@')[2] or 'tds'}>"
        mail["From"] = self.settings.email_from
        mail["To"] = ", ".join(self.settings.email_recipients())
        details = "\n".join(f"  {key}: {value}" for key, value in sorted(alert.details.items()))
        mail.set_content(
            f"{notification.summary()}\n\ntransition: {notification.transition.value} (revision {alert.revision})\n"
            f"kind: {alert.kind}\nseverity: {alert.severity.value}\n"
            f"key: {alert.dedup_key}\nopened: {alert.opened_at.isoformat()}\n"
            f"resolved: {alert.resolved_at.isoformat() if alert.resolved_at else '-'}\n"
            + (f"details:\n{details}\n" if details else "")
        )
        return mail

    def send(self, notification: Notification) -> None:
        settings = self.settings
        try:
            with smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=settings.smtp_timeout_s) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user and settings.smtp_password:
                    smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
                smtp.send_message(self.message(notification))
        except (smtplib.SMTPException, OSError) as exc:
            where = f"{settings.smtp_host}:{settings.smtp_port}"
            raise SinkError(f"e-mail via {where} failed ({type(exc).__name__}: {exc})") from None


def sinks_from_settings(
    settings: AlertSettings, log: logging.Logger | logging.LoggerAdapter = logger
) -> list[Sink]:
    """The log always; a file, a webhook and e-mail when their settings are present."""
    sinks: list[Sink] = [LogSink(log)]
    if settings.file is not None:
        sinks.append(FileSink(settings.file))
    if settings.webhook_url is not None:
        sinks.append(WebhookSink(settings.webhook_url.get_secret_value(), settings.webhook_timeout_s))
    if settings.smtp_host and settings.email_recipients():
        sinks.append(EmailSink(settings))
    return sinks
