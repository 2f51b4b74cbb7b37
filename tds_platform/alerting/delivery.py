"""Delivers the queued notifications (tds.alert_notifications) to their sinks, retrying with backoff.

Each notification is claimed with a row lock while it is sent, so two deliverers never send the
same one; a sink's notifications for one alert go out in the order they were queued, and a sink
that fails keeps them queued (attempts counted, next try later) — it must never drop one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT

from tds_platform.alerting.model import AlertRecord, Notification, Transition
from tds_platform.alerting.settings import AlertSettings
from tds_platform.alerting.sinks import Sink, SinkError, logger

# The oldest due notification of a sink not known to be down in this pass, whose earlier
# notifications for the same alert were all delivered (a resolve never overtakes its open).
CLAIM_NEXT = text("""
SELECT n.id, n.transition, n.sink, n.alert, n.attempts
FROM tds.alert_notifications n
WHERE n.delivered_at IS NULL AND n.next_attempt_at <= now()
  AND n.sink = ANY(:sinks) AND n.sink <> ALL(:down)
  AND NOT EXISTS (
      SELECT 1 FROM tds.alert_notifications e
      WHERE e.alert_id = n.alert_id AND e.sink = n.sink AND e.delivered_at IS NULL AND e.id < n.id)
ORDER BY n.id
LIMIT 1
FOR UPDATE OF n SKIP LOCKED
""").bindparams(bindparam("sinks", type_=ARRAY(TEXT)), bindparam("down", type_=ARRAY(TEXT)))

MARK_DELIVERED = text("""
UPDATE tds.alert_notifications SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = :id
""")

MARK_FAILED = text("""
UPDATE tds.alert_notifications
SET attempts = attempts + 1, last_error = :error, next_attempt_at = now() + make_interval(secs => :delay_s)
WHERE id = :id
""")

PENDING = text("""
SELECT count(*) FROM tds.alert_notifications WHERE delivered_at IS NULL AND sink = ANY(:sinks)
""").bindparams(bindparam("sinks", type_=ARRAY(TEXT)))


def retry_delay_s(attempts: int, settings: AlertSettings) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from the base, capped."""
    return min(settings.retry_base_s * 2 ** max(attempts - 1, 0), settings.retry_max_s)


@dataclass
class DeliveryOutcome:
    delivered: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # sink -> its error in this pass
    pending: int = 0

    def summary(self) -> str:
        failures = "".join(f"; {sink} failed: {error}" for sink, error in self.failed.items())
        return f"{self.delivered} notifications delivered, {self.pending} waiting{failures}"


class Deliverer:
    def __init__(self, engine: Engine, sinks: Sequence[Sink], settings: AlertSettings,
                 log: logging.Logger | logging.LoggerAdapter = logger) -> None:
        self.engine = engine
        self.sinks: Mapping[str, Sink] = {sink.name: sink for sink in sinks}
        self.settings = settings
        self.log = log

    def deliver_due(self, limit: int = 200) -> DeliveryOutcome:
        """Send what is due, at most `limit` notifications; a sink that fails is left alone for the
        rest of this pass (its other notifications would only fail too)."""
        outcome = DeliveryOutcome()
        for _ in range(limit):
            if not self._deliver_one(outcome):
                break
        with self.engine.connect() as conn:
            outcome.pending = int(conn.execute(PENDING, {"sinks": list(self.sinks)}).scalar_one())
        return outcome

    def _deliver_one(self, outcome: DeliveryOutcome) -> bool:
        with self.engine.begin() as conn:
            row = conn.execute(CLAIM_NEXT, {"sinks": list(self.sinks), "down": list(outcome.failed)}).one_or_none()
            if row is None:
                return False
            notification = Notification(Transition(row.transition), AlertRecord.from_snapshot(row.alert), row.id)
            try:
                self.sinks[row.sink].send(notification)
            except SinkError as exc:
                delay = retry_delay_s(row.attempts + 1, self.settings)
                conn.execute(MARK_FAILED, {"id": row.id, "error": str(exc), "delay_s": delay})
                outcome.failed[row.sink] = str(exc)
                self.log.warning(f"alert {notification.alert.dedup_key} not delivered by {row.sink}: {exc} "
                                 f"(attempt {row.attempts + 1}; next try in {delay:g} s)")
            else:
                conn.execute(MARK_DELIVERED, {"id": row.id})
                outcome.delivered += 1
        return True
