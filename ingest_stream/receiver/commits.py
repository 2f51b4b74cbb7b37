"""How the receiver applies a commit the worker reported: acks, metrics, health.

The only place that settles deliveries, so nothing is acknowledged that a commit did not cover.
"""

from __future__ import annotations

from ingest_stream.handoff import CommitSummary
from ingest_stream.receiver.delivery import AckLedger, Delivery
from ingest_stream.receiver.health import HealthState
from ingest_stream.receiver.metrics import IngestMetrics


class CommitRecorder:
    """Applies commits to the ledgers, metrics and health of the process that owns the sessions."""

    def __init__(self, metrics: IngestMetrics, health: HealthState) -> None:
        self.metrics = metrics
        self.health = health

    def committed(self, deliveries: list[Delivery], summary: CommitSummary) -> None:
        m = self.metrics
        by_ledger: dict[AckLedger, list[Delivery]] = {}
        for delivery in deliveries:
            by_ledger.setdefault(delivery.ledger, []).append(delivery)
            m.receive_to_commit.observe(summary.committed_at - delivery.received_at)
        for ledger, settled in by_ledger.items():
            ledger.settle_all(settled)
        m.commit_duration.observe(summary.duration_s)
        m.batch_size.observe(summary.batch_size)
        m.points.inc(summary.inserted)
        m.duplicates.inc(summary.duplicates)
        for (kind, outcome), count in summary.messages.items():
            m.messages.labels(kind, outcome).inc(count)
        for reason, count in summary.dead_letters.items():
            m.dead_letters.labels(reason).inc(count)
        for lag in summary.publish_lags_s:
            m.publish_to_commit.observe(lag)
        m.database_up.set(1)
        self.health.database_ok, self.health.database_error = True, None
        self.health.last_commit_at = summary.committed_at

    def database_failed(self, error: str) -> None:
        self.health.database_ok, self.health.database_error = False, error
        self.metrics.database_up.set(0)
        self.metrics.database_retries.inc()
