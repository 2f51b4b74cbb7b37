"""Writes one batch through one database connection until it is committed, then reports it.

A batch the database cannot take right now (unreachable, a permission, a missing table) is retried
as a whole and never acknowledged meanwhile. A message the database refuses (a value breaking a
constraint, a resource one message can exhaust: store.isolation) goes to the dead-letter table while
the rest land; such a batch is never retried whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg

from ingest_stream.handoff import Received
from ingest_stream.logs import first_line
from ingest_stream.records import DeadLetter, Parsed
from ingest_stream.store import Batch, Store, StoreUnavailableError, WriteResult, write_isolating_refusals
from ingest_stream.worker.reports import CommitSink, summarize

log = logging.getLogger("ingest_stream.batch_writer")


class BatchWriter:
    def __init__(self, store: Store, sink: CommitSink, retry_max_s: float = 10.0) -> None:
        self.store = store
        self.sink = sink
        self.retry_max_s = retry_max_s

    def write(self, batch: Batch, give_up: Callable[[], bool]) -> bool:
        """Commit `batch`, then report it for acknowledgement. False if it could not be committed
        before `give_up` said so (it is then not acknowledged: the broker redelivers it)."""
        started = time.monotonic()
        result = self._write_with_retry(batch, give_up)
        if result is None:
            return False
        self.sink.committed(batch.sources, summarize(batch, result, started))
        return True

    def _write_with_retry(self, batch: Batch, give_up: Callable[[], bool]) -> WriteResult | None:
        delay = 0.2
        while True:
            try:
                return self._write_dead_lettering_refusals(batch)
            except StoreUnavailableError as exc:
                self.sink.database_failed(str(exc))
                log.warning("database unavailable; retrying batch", extra={"error": str(exc), "retry_in_s": delay,
                                                                          "batch": len(batch)})
                # Pause in short steps: a signal does not cut a sleep short, and SIGTERM must not
                # wait out a backoff of up to retry_max_s.
                resume_at = time.monotonic() + delay
                while not give_up() and time.monotonic() < resume_at:
                    time.sleep(0.05)
                if give_up():
                    return None
                delay = min(delay * 2, self.retry_max_s)

    def _write_dead_lettering_refusals(self, batch: Batch[Received]) -> WriteResult:
        """Write `batch`; the messages the database refuses are written as dead letters instead, all in one
        transaction after the rest. A database that cannot take even those is unavailable: retry."""
        isolated = write_isolating_refusals(self.store, batch)
        if not isolated.refused:
            return isolated.result
        letters = {position: DeadLetter(batch.sources[position].topic, batch.sources[position].payload,
                                        refusal.reason, f"the database refused it: {refusal.error}")
                   for position, refusal in isolated.refused.items()}
        positions = sorted(letters)
        try:
            written = self.store.write(Batch([batch.sources[p] for p in positions],
                                             [Parsed(dead_letter=letters[p]) for p in positions]))
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"could not write a dead letter: {first_line(exc)}") from exc
        return isolated.result + written.of_part(positions) + WriteResult(dead_lettered=letters)
