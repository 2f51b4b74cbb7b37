"""tds.alerts as an incident store: open (or touch) by dedup key, resolve, list — and queue the
notification each change owes every sink, in the same transaction as the change.

The unique index on open dedup keys makes "one alert per incident" a database fact, and the outbox's
unique (alert, transition, revision, sink) makes "one notification per state and sink" one too;
this module must never insert a second open row or resolve an alert it did not find open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Connection, Engine, Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT

from tds_platform.alerting.model import Alert, AlertRecord, Severity, Transition

COLUMNS = "id, kind, severity, dedup_key, subject, message, opened_at, last_seen_at, resolved_at, details, revision"

# xmax = 0 only for a freshly inserted row: tells a new incident from a repeat of an open one. A
# repeat with another severity or subject is an update people hear about (revision + 1); any
# repeat means the incident is not clear (clear_since reset: see RESOLVE_AFTER_HOLD).
OPEN_OR_TOUCH = text(f"""
INSERT INTO tds.alerts AS a (kind, severity, dedup_key, subject, message, details)
VALUES (:kind, :severity, :dedup_key, :subject, :message, CAST(:details AS jsonb))
ON CONFLICT (dedup_key) WHERE resolved_at IS NULL
DO UPDATE SET last_seen_at = now(), clear_since = NULL,
              revision = a.revision + CASE WHEN a.severity <> EXCLUDED.severity OR a.subject <> EXCLUDED.subject
                                           THEN 1 ELSE 0 END,
              severity = EXCLUDED.severity, subject = EXCLUDED.subject,
              message = EXCLUDED.message, details = EXCLUDED.details
RETURNING {COLUMNS}, (xmax = 0) AS opened
""")

# An incident its detector sees clear is resolved once it has stayed clear for :hold_s; until then
# only clear_since is noted, so a condition that flaps within the hold never notifies anyone.
RESOLVE_AFTER_HOLD = text(f"""
UPDATE tds.alerts
SET clear_since = coalesce(clear_since, now()),
    resolved_at = CASE WHEN coalesce(clear_since, now()) <= now() - make_interval(secs => :hold_s)
                       THEN now() END,
    last_seen_at = CASE WHEN coalesce(clear_since, now()) <= now() - make_interval(secs => :hold_s)
                        THEN now() ELSE last_seen_at END
WHERE dedup_key = :dedup_key AND resolved_at IS NULL
RETURNING {COLUMNS}
""")

# Every repeat of an open incident queues its state again, which is a no-op: the NOT EXISTS keeps
# those repeats from drawing identity values, the unique key settles a race between two sensors.
ENQUEUE = text("""
INSERT INTO tds.alert_notifications (alert_id, transition, revision, sink, alert)
SELECT :alert_id, :transition, :revision, sink, CAST(:alert AS jsonb) FROM unnest(:sinks) AS sink
WHERE NOT EXISTS (SELECT 1 FROM tds.alert_notifications n
                  WHERE n.alert_id = :alert_id AND n.transition = :transition AND n.revision = :revision
                    AND n.sink = sink)
ON CONFLICT (alert_id, transition, revision, sink) DO NOTHING
""").bindparams(bindparam("sinks", type_=ARRAY(TEXT)))

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
        revision=row.revision,
    )


def _enqueue(conn: Connection, record: AlertRecord, transition: Transition, sinks: Sequence[str]) -> None:
    conn.execute(ENQUEUE, {"alert_id": record.id, "transition": transition.value, "revision": record.revision,
                           "sinks": list(sinks), "alert": orjson.dumps(record.snapshot(), default=str).decode()})


class AlertStore:
    """Incidents and their queued notifications; `sinks` names who is owed each notification."""

    def __init__(self, engine: Engine, sinks: Sequence[str] = ()) -> None:
        self.engine = engine
        self.sinks = list(sinks)

    def open(self, alert: Alert) -> tuple[AlertRecord, bool]:
        """The open row for this incident, and whether this call opened it (False: seen again).

        Queues "opened" (revision 0) or "updated" (a later revision) for every sink; queueing the
        same state again is a no-op, so a repeat after a crash between the two still notifies once.
        """
        params = {
            "kind": alert.kind, "severity": alert.severity.value, "dedup_key": alert.dedup_key,
            "subject": alert.subject, "message": alert.message,
            "details": orjson.dumps(alert.details, default=str).decode(),
        }
        with self.engine.begin() as conn:
            row = conn.execute(OPEN_OR_TOUCH, params).one()
            record = _record(row)
            _enqueue(conn, record, Transition.OPENED if record.revision == 0 else Transition.UPDATED, self.sinks)
        return record, bool(row.opened)

    def resolve(self, dedup_key: str, hold: timedelta = timedelta(0)) -> AlertRecord | None:
        """Close the open incident for this key once it has been clear for `hold`; None when nothing
        was open or it is still within the hold."""
        with self.engine.begin() as conn:
            row = conn.execute(RESOLVE_AFTER_HOLD, {"dedup_key": dedup_key,
                                                    "hold_s": hold.total_seconds()}).one_or_none()
            if row is None or row.resolved_at is None:
                return None
            record = _record(row)
            _enqueue(conn, record, Transition.RESOLVED, self.sinks)
        return record

    def open_keys(self, kind: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(OPEN_KEYS, {"kind": kind}).scalars())

    def recent(self, since: datetime, limit: int = 50) -> Sequence[AlertRecord]:
        """Open alerts first, then those seen or resolved since `since`, newest first."""
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(RECENT, {"since": since, "limit": limit})]
