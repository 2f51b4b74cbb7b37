"""Writes one batch through one database connection until it is committed, then reports it.

A batch the database cannot take right now (unreachable, a permission, a missing table) is retried
as a whole and never acknowledged meanwhile. A batch it refuses for something a message can cause (a
value breaking a constraint, a resource one message can exhaust: store.faults) is split to find that
message, which goes to the dead-letter table while the rest land; it is never retried whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg

from ingest_stream.batch import Batch
from ingest_stream.commits import CommitSink, summarize
from ingest_stream.logs import first_line
from ingest_stream.records import DeadLetter, DeadLetterReason, Parsed
from ingest_stream.store import Store, StoreUnavailableError, WriteResult
from ingest_stream.store.faults import message_fault

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
                return self._write_isolating_faults(batch)
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

    def _write_isolating_faults(self, batch: Batch) -> WriteResult:
        """Write `batch`; when the database refuses it for something a message can cause, write it again
        as two parts of about equal cost, each the same way, down to the message at fault.

        Cost is what a message makes the database touch (its distinct days: one chunk each, and the
        lock table holds only so many), so a message far costlier than the rest is alone in its part at
        the first split: the lock-table error the split answers took 16 s to come back here, and a plain
        halving would meet it again at every level down to that message."""
        try:
            return self.store.write(batch)
        except psycopg.Error as exc:
            reason = message_fault(exc)  # the store raises psycopg errors for nothing else
            if reason is None:
                raise
            if len(batch) == 1:
                return self._dead_letter_alone(batch, reason, exc)
            log.warning("the database refused a batch for something a message can cause; splitting it",
                        extra={"error": first_line(exc), "batch": len(batch)})
        total = WriteResult()
        for positions in halves_by_cost(batch):
            part = Batch([batch.deliveries[i] for i in positions], [batch.parsed[i] for i in positions])
            total = total + self._write_isolating_faults(part)
            for i, parsed in zip(positions, part.parsed, strict=True):
                batch.parsed[i] = parsed
        return total

    def _dead_letter_alone(self, batch: Batch, reason: DeadLetterReason, error: psycopg.Error) -> WriteResult:
        """The one message of `batch` is at fault: write it as a dead letter instead. A database that
        cannot take even that is unavailable, not refusing the message: retry."""
        delivery = batch.deliveries[0]
        log.error("the database refused a message written alone; dead-lettering it",
                  extra={"reason": reason.value, "error": first_line(error), "topic": delivery.topic})
        batch.parsed[0] = Parsed(dead_letter=DeadLetter(delivery.topic, delivery.payload, reason,
                                                        f"the database refused it: {first_line(error)}"))
        try:
            return self.store.write(batch)
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"could not write a dead letter: {first_line(exc)}") from exc


def _cost(parsed: Parsed) -> int:
    """What writing one message costs the database, roughly: the distinct days its readings fall on."""
    return 1 + len({reading.ts.toordinal() for reading in parsed.readings})


def halves_by_cost(batch: Batch) -> tuple[list[int], list[int]]:
    """Two non-empty lists of batch positions of about equal total cost (costliest first, each to the
    lighter side), each in batch order."""
    costs = [_cost(parsed) for parsed in batch.parsed]
    sides: tuple[list[int], list[int]] = ([], [])
    weights = [0, 0]
    for position in sorted(range(len(costs)), key=lambda i: -costs[i]):
        side = 0 if weights[0] <= weights[1] else 1
        sides[side].append(position)
        weights[side] += costs[position]
    return sorted(sides[0]), sorted(sides[1])
