"""What the worker reports about each batch, and how it reaches the receiver: a commit's summary, over the pipe.

Reports are plain data (handoff.py). Applying them — acks, metrics, health — is the receiver's job
(receiver.commits): a metric updated here would live in a registry no /metrics endpoint serves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Protocol

from ingest_stream.handoff import CommitSummary, Committed, DatabaseFailed, Received, ToReceiver
from ingest_stream.records import Parsed
from ingest_stream.store import Batch, WriteResult


class CommitSink(Protocol):
    """Where the pipeline reports: the pipe to the receiver (PipeSink), or a test's own."""

    def committed(self, messages: Sequence[Received], summary: CommitSummary) -> None: ...

    def database_failed(self, error: str) -> None: ...


def _kind_of(parsed: Parsed) -> tuple[str, str]:
    if parsed.readings:
        return "telem", "landed"
    if parsed.events:
        return "event", "landed"
    if parsed.acks:
        return "ack", "landed"
    return "other", "ignored"


def summarize(batch: Batch[Received], result: WriteResult, started: float) -> CommitSummary:
    """`result` is what writing `batch` did (a message it dead-lettered counts as a dead letter, whatever it
    parsed to); `started` is the monotonic time the write began."""
    committed_at = time.time()
    summary = CommitSummary(len(batch), result.inserted, result.duplicates, time.monotonic() - started, committed_at)
    for position, parsed in enumerate(batch.parsed):
        letter = result.dead_lettered.get(position, parsed.dead_letter)
        if letter is not None:
            summary.messages["unknown", "dead_letter"] += 1
            summary.dead_letters[letter.reason.value] += 1
            continue
        summary.messages[_kind_of(parsed)] += 1
        if parsed.readings:
            lag = committed_at - max(r.ts for r in parsed.readings).timestamp()
            if 0 <= lag < 3600:  # live data only: re-sent history would swamp the histogram
                summary.publish_lags_s.append(lag)
    return summary


class PipeSink:
    """The pipeline's reports, sent to the receiver. Every batch-writer thread reports, and the main
    thread sends too: a pipe message must go out whole, so sends take turns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: ToReceiver) -> None:
        with self.lock:
            self.conn.send(message)

    def committed(self, messages: Sequence[Received], summary: CommitSummary) -> None:
        self.send(Committed([message.seq for message in messages], summary))

    def database_failed(self, error: str) -> None:
        self.send(DatabaseFailed(error))
