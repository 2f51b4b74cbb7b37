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

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class Notification:
    transition: Transition
    alert: AlertRecord

    def headline(self) -> str:
        """One line a human reads first (Slack's `text`, the e-mail subject, the log line)."""
        if self.transition is Transition.RESOLVED:
            return f"[RESOLVED] {self.alert.subject}"
        return f"[{self.alert.severity.value.upper()}] {self.alert.subject}"
