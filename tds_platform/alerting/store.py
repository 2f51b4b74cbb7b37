"""tds.alerts as an incident store: open (or touch) by dedup key, resolve, and list.

The unique index on open dedup keys makes "one alert per incident" a database fact; this module
must never insert a second open row or resolve an alert it did not find open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import Engine, Row, text

from tds_platform.alerting.model import Alert, AlertRecord, Severity

COLUMNS = "id, kind, severity, dedup_key, subject, message, opened_at, last_seen_at, resolved_at, details"

# xmax = 0 only for a freshly inserted row: tells a new incident from a repeat of an open one.
OPEN_OR_TOUCH = text(f"""
INSERT INTO tds.alerts (kind, severity, dedup_key, subject, message, details)
VALUES (:kind, :severity, :dedup_key, :subject, :message, CAST(:details AS jsonb))
ON CONFLICT (dedup_key) WHERE resolved_at IS NULL
DO UPDATE SET last_seen_at = now(), severity = EXCLUDED.severity,
              message = EXCLUDED.message, details = EXCLUDED.details
RETURNING {COLUMNS}, (xmax = 0) AS opened
""")

RESOLVE = text(f"""
UPDATE tds.alerts SET resolved_at = now(), last_seen_at = now()
WHERE dedup_key = :dedup_key AND resolved_at IS NULL
RETURNING {COLUMNS}
""")

OPEN_KEYS = text("SELECT dedup_key FROM tds.alerts WHERE kind = :kind AND resolved_at IS NULL")

RECENT = text(f"""
SELECT {COLUMNS} FROM tds.alerts
WHERE resolved_at IS NULL OR last_seen_at >= :since
ORDER BY resolved_at IS NULL DESC, last_seen_at DESC
LIMIT :limit
""")


def _record(row: Row) -> AlertRecord:
    return AlertRecord(
        id=row.id, kind=row.kind, severity=Severity(row.severity), dedup_key=row.dedup_key,
        subject=row.subject, message=row.message, opened_at=row.opened_at,
        last_seen_at=row.last_seen_at, resolved_at=row.resolved_at, details=dict(row.details),
    )


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open(self, alert: Alert) -> tuple[AlertRecord, bool]:
        """The open row for this incident, and whether this call opened it (False: seen again)."""
        params = {
            "kind": alert.kind, "severity": alert.severity.value, "dedup_key": alert.dedup_key,
            "subject": alert.subject, "message": alert.message,
            "details": orjson.dumps(alert.details, default=str).decode(),
        }
        with self.engine.begin() as conn:
            row = conn.execute(OPEN_OR_TOUCH, params).one()
        return _record(row), bool(row.opened)

    def resolve(self, dedup_key: str) -> AlertRecord | None:
        """Close the open incident for this key; None when nothing was open."""
        with self.engine.begin() as conn:
            row = conn.execute(RESOLVE, {"dedup_key": dedup_key}).one_or_none()
        return None if row is None else _record(row)

    def open_keys(self, kind: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(OPEN_KEYS, {"kind": kind}).scalars())

    def recent(self, since: datetime, limit: int = 50) -> Sequence[AlertRecord]:
        """Open alerts first, then those seen or resolved since `since`, newest first."""
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(RECENT, {"since": since, "limit": limit})]
