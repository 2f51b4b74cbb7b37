"""What one committed batch did, and how the process owning the MQTT sessions applies it: acks, metrics, health.

A summary is plain data (it crosses the pipe from the worker); applying it is the only place that
settles deliveries, so nothing is acknowledged that a commit did not cover.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from ingest_stream.batch import Batch
from ingest_stream.delivery import AckLedger, Delivery
from ingest_stream.health import HealthState
from ingest_stream.metrics import IngestMetrics
from ingest_stream.records import Parsed
from ingest_stream.store import WriteResult


@dataclass
class CommitSummary:
    batch_size: int
    inserted: int
    duplicates: int
    duration_s: float
    committed_at: float  # wall clock
    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome) -> count
    dead_letters: Counter[str] = field(default_factory=Counter)  # reason -> count
    publish_lags_s: list[float] = field(default_factory=list)  # live data only


class CommitSink(Protocol):
    """Where the pipeline reports: applied in this process, or sent to the parent by the worker."""

    def committed(self, deliveries: list[Delivery], summary: CommitSummary) -> None: ...

    def database_failed(self, error: str) -> None: ...


def _kind_of(parsed: Parsed) -> tuple[str, str]:
    if parsed.dead_letter is not None:
        return "unknown", "dead_letter"
    if parsed.readings:
        return "telem", "landed"
    if parsed.events:
        return "event", "landed"
    if parsed.acks:
        return "ack", "landed"
    return "other", "ignored"


def summarize(batch: Batch, result: WriteResult, started: float) -> CommitSummary:
    """`started` is the monotonic time the write began."""
    committed_at = time.time()
    summary = CommitSummary(len(batch), result.inserted, result.duplicates, time.monotonic() - started, committed_at)
    for parsed in batch.parsed:
        summary.messages[_kind_of(parsed)] += 1
        if parsed.dead_letter is not None:
            summary.dead_letters[parsed.dead_letter.reason.value] += 1
        elif parsed.readings:
            lag = committed_at - max(r.ts for r in parsed.readings).timestamp()
            if 0 <= lag < 3600:  # live data only: re-sent history would swamp the histogram
                summary.publish_lags_s.append(lag)
    return summary


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
