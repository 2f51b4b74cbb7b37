"""Opening and resolving incidents, and telling every sink about each transition exactly once.

Repeats of an open incident only touch its row; a failing sink is logged and never stops the
other sinks or loses the stored alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from tds_platform.alerting.model import Alert, AlertRecord, Notification, Transition
from tds_platform.alerting.settings import AlertSettings
from tds_platform.alerting.sinks import Sink, SinkError, logger, sinks_from_settings
from tds_platform.alerting.store import AlertStore


class AlertService:
    def __init__(self, store: AlertStore, sinks: Sequence[Sink],
                 log: logging.Logger | logging.LoggerAdapter = logger) -> None:
        self.store = store
        self.sinks = list(sinks)
        self.log = log

    @classmethod
    def from_settings(cls, engine: Engine, settings: AlertSettings,
                      log: logging.Logger | logging.LoggerAdapter = logger) -> AlertService:
        return cls(AlertStore(engine), sinks_from_settings(settings, log), log)

    def open(self, alert: Alert) -> AlertRecord | None:
        """Record the incident; notify only when this call opened it. Returns the new row, else None."""
        record, opened = self.store.open(alert)
        if not opened:
            return None
        self._notify(Notification(Transition.OPENED, record))
        return record

    def resolve(self, dedup_key: str) -> AlertRecord | None:
        """Close the incident if it is open and notify; None when nothing was open."""
        record = self.store.resolve(dedup_key)
        if record is not None:
            self._notify(Notification(Transition.RESOLVED, record))
        return record

    def _notify(self, notification: Notification) -> None:
        for sink in self.sinks:
            try:
                sink.send(notification)
            except SinkError as exc:
                self.log.warning(f"alert {notification.alert.dedup_key} not delivered by {sink.name}: {exc}")
