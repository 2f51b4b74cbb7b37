"""Opening, updating and resolving incidents, and getting each transition to every sink exactly once.

A change and the notifications it owes are stored in one transaction (the outbox), then delivered
at once; a sink that is down keeps its notifications queued for the next delivery pass, so an
alert is never lost to a failing sink nor sent twice for the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine

from tds_platform.alerting.delivery import Deliverer, DeliveryOutcome
from tds_platform.alerting.model import Alert, AlertRecord
from tds_platform.alerting.settings import AlertSettings
from tds_platform.alerting.sinks import Sink, logger, sinks_from_settings
from tds_platform.alerting.store import AlertStore


class AlertService:
    def __init__(self, engine: Engine, sinks: Sequence[Sink], settings: AlertSettings | None = None,
                 log: logging.Logger | logging.LoggerAdapter = logger) -> None:
        self.settings = settings or AlertSettings()
        self.store = AlertStore(engine, [sink.name for sink in sinks])
        self.deliverer = Deliverer(engine, sinks, self.settings, log)

    @classmethod
    def from_settings(cls, engine: Engine, settings: AlertSettings,
                      log: logging.Logger | logging.LoggerAdapter = logger) -> AlertService:
        return cls(engine, sinks_from_settings(settings, log), settings, log)

    def open(self, alert: Alert) -> AlertRecord | None:
        """Record the incident (an update when its severity or subject changed) and deliver what that
        owes. Returns the row when this call opened it, else None."""
        record, opened = self.store.open(alert)
        self.deliver()
        return record if opened else None

    def resolve(self, dedup_key: str, hold: timedelta = timedelta(0)) -> AlertRecord | None:
        """Close the incident once it has been clear for `hold`, and deliver the resolve notification;
        None when nothing was open or the hold has not passed."""
        record = self.store.resolve(dedup_key, hold)
        if record is not None:
            self.deliver()
        return record

    def deliver(self) -> DeliveryOutcome:
        """Send every due notification (new ones, and retries whose backoff has passed)."""
        return self.deliverer.deliver_due()
