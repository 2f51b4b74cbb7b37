"""What an alert is: the incident a detector reports, and the stored row a sink is told about.

Immutable values only; they must never hold connections or sinks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Transition(enum.StrEnum):
    """What happened to the incident: sinks hear about each exactly once."""

    OPENED = "opened"
    UPDATED = "updated"  # an open incident changed severity or subject
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """An incident as a detector sees it; `dedup_key` names the incident across ticks."""

    kind: str
    severity: Severity
    dedup_key: str
    subject: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One row of tds.alerts."""

    id: int
    kind: str
    severity: Severity
    dedup_key: str
    subject: str
    message: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    details: dict[str, Any]
    revision: int = 0

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def snapshot(self) -> dict[str, Any]:
        """What a notification says about the alert, frozen when the notification is queued."""
        return {
            "id": self.id, "kind": self.kind, "severity": self.severity.value, "dedup_key": self.dedup_key,
            "subject": self.subject, "message": self.message, "opened_at": self.opened_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "details": self.details, "revision": self.revision,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> AlertRecord:
        resolved = data.get("resolved_at")
        return cls(
            id=int(data["id"]), kind=data["kind"], severity=Severity(data["severity"]), dedup_key=data["dedup_key"],
            subject=data["subject"], message=data["message"], opened_at=datetime.fromisoformat(data["opened_at"]),
            last_seen_at=datetime.fromisoformat(data["last_seen_at"]),
            resolved_at=datetime.fromisoformat(resolved) if resolved else None,
            details=dict(data.get("details") or {}), revision=int(data.get("revision", 0)),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One transition of one alert for one sink; `id` is its outbox row, stable across retries, so a
    receiver that saw a delivery whose acknowledgement was lost can recognise the retry."""

    transition: Transition
    alert: AlertRecord
    id: int | None = None

    def summary(self) -> str:
        """The headline and what to know: the incident as last seen, or how long it lasted."""
        alert = self.alert
        if self.transition is Transition.RESOLVED and alert.resolved_at is not None:
            lasted = (alert.resolved_at - alert.opened_at).total_seconds() / 60
            return f"{self.headline()}: over after {lasted:.0f} min (last seen: {alert.message})"
        return f"{self.headline()}: {alert.message}"

    def headline(self) -> str:
        """One line a human reads first (Slack's `text`, the e-mail subject, the log line)."""
        if self.transition is Transition.RESOLVED:
            return f"[RESOLVED] {self.alert.subject}"
        if self.transition is Transition.UPDATED:
            return f"[{self.alert.severity.value.upper()}, updated] {self.alert.subject}"
        return f"[{self.alert.severity.value.upper()}] {self.alert.subject}"
