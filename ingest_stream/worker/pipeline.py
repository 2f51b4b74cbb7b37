"""Parse (on the receiving thread) -> batch -> write on several connections at once -> report: the core
of the writer's worker process.

A batch is reported to the sink (which acknowledges) only after the commit that covers it. Batches
are written by one thread per database connection, so the next batch is encoded and sent while the
database still works on the last one (one connection left both waiting in turn: the serial write
path was the writer's bottleneck on 10-point messages). Order between batches does not matter: MQTT
acknowledgements may go out in any order, and a reading in two batches at once lands once. While
the database is down each writer keeps retrying its batch; the receiver stops reading at its bound of
uncommitted messages (receiver.link.WorkerLink), so memory stays bounded under any backlog.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ingest_stream.handoff import Received
from ingest_stream.records import Parsed
from ingest_stream.store import Batch, Store
from ingest_stream.worker.batch_writer import BatchWriter
from ingest_stream.worker.reports import CommitSink

log = logging.getLogger("ingest_stream.pipeline")

Parse = Callable[[str, bytes, datetime], Parsed]


class Pipeline:
    def __init__(self, parse: Parse, stores: Sequence[Store], sink: CommitSink, batch_size: int,
                 batch_max_age_s: float, retry_max_s: float = 10.0) -> None:
        self.parse = parse
        self.writers = [BatchWriter(store, sink, retry_max_s) for store in stores]
        self.batch_size = batch_size
        self.batch_max_age_s = batch_max_age_s
        self.inbox: queue.SimpleQueue[tuple[Received, Parsed]] = queue.SimpleQueue()
        self.batch: Batch[Received] = Batch()
        # Full batches waiting for a free writer. Unbounded on purpose: the receiver holds at most
        # TDS_RECEIVE_MAXIMUM uncommitted messages, which bounds it; None tells a writer to stop.
        self.outbox: queue.SimpleQueue[Batch[Received] | None] = queue.SimpleQueue()
        self._failure: BaseException | None = None  # what stopped a writer (LeaseLostError, a bug)
        self._dropped = 0  # messages the writers dropped after a failure
        self._dropped_lock = threading.Lock()

    def submit(self, message: Received) -> None:
        """Called on the thread that takes messages off the pipe: parse it there, so the next batch is parsed
        while the one before is being written (the database works and psycopg waits without the GIL)."""
        received_at = datetime.fromtimestamp(message.received_at, UTC)
        self.inbox.put((message, self.parse(message.topic, message.payload, received_at)))

    def run(self, stop: threading.Event) -> None:
        """Batch until `stop`, then hand on what was received: every batch gets at least one attempt,
        and a writer retrying an unreachable database gives up at `stop` (not acknowledged, the broker
        redelivers it), so SIGTERM never waits out an outage.

        Raises what stopped a writer (LeaseLostError) once every writer has stopped, so nothing is
        written after the caller hears of it."""
        def give_up() -> bool:
            return stop.is_set() or self._failure is not None

        threads = [threading.Thread(target=self._write_loop, args=(writer, give_up), name=f"batch-writer-{n}",
                                    daemon=True) for n, writer in enumerate(self.writers)]
        for thread in threads:
            thread.start()
        while not give_up():
            self.step()
        if self._failure is None:
            self.drain_inbox()
            self._hand_off()
        for _ in threads:
            self.outbox.put(None)
        for thread in threads:
            thread.join()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def step(self) -> None:
        # Wait at most 0.2 s: a long batch age would otherwise delay noticing `stop` by up to that age.
        timeout = min(self.batch_max_age_s - self.batch.age_s(), 0.2) if len(self.batch) else 0.2
        with contextlib.suppress(queue.Empty):
            self._add(self.inbox.get(timeout=max(timeout, 0.001)))
        self.drain_inbox(limit=self.batch_size - len(self.batch))
        if len(self.batch) >= self.batch_size or (len(self.batch) and self.batch.age_s() >= self.batch_max_age_s):
            self._hand_off()

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
        dropped = len(self.batch) + self._dropped
        self.batch, self._dropped = Batch(), 0
        return dropped

    def _add(self, item: tuple[Received, Parsed]) -> None:
        self.batch.add(*item)

    def _hand_off(self) -> None:
        if len(self.batch):
            self.outbox.put(self.batch)
            self.batch = Batch()

    def _write_loop(self, writer: BatchWriter, give_up: Callable[[], bool]) -> None:
        """One writer thread: batches off the outbox until None. After any writer failed, the rest
        only drop what is left (a lost lease: none of it may be written)."""
        writer.store.warm_up()
        while (batch := self.outbox.get()) is not None:
            if self._failure is not None:
                self._drop(batch)
                continue
            try:
                writer.write(batch, give_up)
            except BaseException as exc:  # handed to run(), which raises it on the worker's main thread
                self._drop(batch)
                self._failure = exc

    def _drop(self, batch: Batch) -> None:
        with self._dropped_lock:
            self._dropped += len(batch)
