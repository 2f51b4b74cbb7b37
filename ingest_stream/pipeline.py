"""Parse (on the receiving thread) -> batch -> write -> commit -> report: the core of the writer's worker process.

A batch is reported to the sink (which acknowledges) only after the commit that covers it. While
the database is down it keeps retrying the same batch; the parent stops reading at its bound of
uncommitted messages (link.WorkerLink), so memory stays bounded under any backlog.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import psycopg.errors

from ingest_stream.batch import Batch
from ingest_stream.commits import CommitSink, summarize
from ingest_stream.delivery import Delivery
from ingest_stream.records import DeadLetter, DeadLetterReason, Parsed
from ingest_stream.store import Store, StoreUnavailableError, WriteResult

log = logging.getLogger("ingest_stream.pipeline")

Parse = Callable[[str, bytes, datetime], Parsed]


class LeaseLostError(Exception):
    """This instance no longer holds the lease: nothing it has not committed may be written."""


class Pipeline:
    def __init__(self, parse: Parse, store: Store, sink: CommitSink, batch_size: int, batch_max_age_s: float,
                 retry_max_s: float = 10.0) -> None:
        self.parse = parse
        self.store = store
        self.sink = sink
        self.batch_size = batch_size
        self.batch_max_age_s = batch_max_age_s
        self.retry_max_s = retry_max_s
        self.inbox: queue.SimpleQueue[tuple[Delivery, Parsed]] = queue.SimpleQueue()
        self.batch = Batch()

    def submit(self, delivery: Delivery) -> None:
        """Called on the thread that receives deliveries: parse it there, so the next batch is parsed
        while the one before is being written (the database works and psycopg waits without the GIL)."""
        received_at = datetime.fromtimestamp(delivery.received_at, UTC)
        self.inbox.put((delivery, self.parse(delivery.topic, delivery.payload, received_at)))

    def run(self, stop: threading.Event, flush_deadline_s: float = 5.0) -> None:
        """Process until `stop`; then flush what was received, retrying until the deadline."""
        while not stop.is_set():
            self.step(stop)
        self.drain_inbox()
        deadline = time.monotonic() + flush_deadline_s
        if len(self.batch):
            self.flush(lambda: time.monotonic() > deadline)

    def step(self, stop: threading.Event) -> None:
        # Wait at most 0.2 s: a long batch age would otherwise delay noticing `stop` by up to that age.
        timeout = min(self.batch_max_age_s - self.batch.age_s(), 0.2) if len(self.batch) else 0.2
        with contextlib.suppress(queue.Empty):
            self._add(self.inbox.get(timeout=max(timeout, 0.001)))
        self.drain_inbox(limit=self.batch_size - len(self.batch))
        if len(self.batch) >= self.batch_size or (len(self.batch) and self.batch.age_s() >= self.batch_max_age_s):
            self.flush(stop.is_set)

    def drain_inbox(self, limit: int | None = None) -> None:
        taken = 0
        while limit is None or taken < limit:
            try:
                self._add(self.inbox.get_nowait())
            except queue.Empty:
                return
            taken += 1

    def discard(self) -> int:
        """Forget everything not yet committed (lease lost): the broker redelivers it to the next leader."""
        self.drain_inbox()
        dropped = len(self.batch)
        self.batch = Batch()
        return dropped

    def _add(self, item: tuple[Delivery, Parsed]) -> None:
        self.batch.add(*item)

    def flush(self, give_up: Callable[[], bool]) -> bool:
        """Commit the current batch, then report it for acknowledgement. False if it could not be committed."""
        batch, self.batch = self.batch, Batch()
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
                result = self._write_isolating_rejects(batch)
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
                continue
            return result

    def _write_isolating_rejects(self, batch: Batch) -> WriteResult:
        """A batch the database refuses (not unreachable: refuses) is split to find the message at
        fault; that message goes to the dead-letter table instead, and the rest lands."""
        try:
            return self.store.write(batch)
        except psycopg.Error as exc:
            if not isinstance(exc, psycopg.errors.DataError | psycopg.errors.IntegrityError):
                # Permissions, a missing table, a read-only server: the operator's problem, not the
                # message's. Retry without acknowledging, and say so in health.
                raise StoreUnavailableError(str(exc).strip().splitlines()[0]) from exc
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
