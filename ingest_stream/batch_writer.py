"""Writes one batch through one database connection until it is committed, then reports it.

A batch the database cannot take right now (unreachable, a permission, a missing table) is retried
as a whole and never acknowledged meanwhile; a batch it refuses (a value breaking a constraint) is
split to find the message at fault, which goes to the dead-letter table instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
import psycopg.errors

from ingest_stream.batch import Batch
from ingest_stream.commits import CommitSink, summarize
from ingest_stream.logs import first_line
from ingest_stream.records import DeadLetter, DeadLetterReason, Parsed
from ingest_stream.store import Store, StoreUnavailableError, WriteResult

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
        self.sink.committed(batch.deliveries, summarize(batch, result, started))
        return True

    def _write_with_retry(self, batch: Batch, give_up: Callable[[], bool]) -> WriteResult | None:
        delay = 0.2
        while True:
            try:
                return self._write_isolating_rejects(batch)
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

    def _write_isolating_rejects(self, batch: Batch) -> WriteResult:
        try:
            return self.store.write(batch)
        except psycopg.Error as exc:
            if not isinstance(exc, psycopg.errors.DataError | psycopg.errors.IntegrityError):
                # Permissions, a missing table, a read-only server: the operator's problem, not the
                # message's. Retry without acknowledging, and say so in health.
                raise StoreUnavailableError(first_line(exc)) from exc
            if len(batch) == 1:
                delivery = batch.deliveries[0]
                log.error("database rejected a message; dead-lettering it", extra={"error": str(exc)})
                batch.parsed[0] = Parsed(dead_letter=DeadLetter(
                    delivery.topic, delivery.payload, DeadLetterReason.DATABASE_REJECTED,
                    f"the database refused it: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"))
                return self.store.write(batch)
        total = WriteResult()
        for position, single in enumerate(batch.split()):
            part = self._write_isolating_rejects(single)
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(part, name))
            batch.parsed[position] = single.parsed[0]
        return total
