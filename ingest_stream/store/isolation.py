"""Writing a batch so that a message the database refuses keeps none of the others out: one routine for the
stream writer and the platform's DLQ replay.

When the database refuses a batch for something a message can cause (faults.message_fault), the batch is
written again as two parts of about equal cost, each the same way, down to the message at fault. It
returns what landed and which messages were refused, and never changes the batch: the caller decides what
a refused message becomes (the writer dead-letters it; a replay leaves its dead letter as it was). Any
other failure propagates (StoreUnavailableError: the database cannot take the batch now).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

from ingest_stream.logs import first_line
from ingest_stream.records import DeadLetterReason, Parsed
from ingest_stream.store.batch import Batch
from ingest_stream.store.faults import message_fault
from ingest_stream.store.writer import Store, WriteResult

log = logging.getLogger("ingest_stream.store")


@dataclass(frozen=True)
class Refusal:
    """Why the database refused one message written alone."""

    reason: DeadLetterReason  # database_rejected or database_limit
    error: str  # the database's error, first line


@dataclass
class Isolated:
    """What landed, and the refused messages by position in the batch (none of their rows landed)."""

    result: WriteResult = field(default_factory=WriteResult)
    refused: dict[int, Refusal] = field(default_factory=dict)


def write_isolating_refusals(store: Store, batch: Batch) -> Isolated:
    """Write `batch` through `store`, leaving out exactly the messages the database refuses.

    Cost is what a message makes the database touch (its distinct days: one chunk each, and the lock table
    holds only so many), so a message far costlier than the rest is alone in its part at the first split:
    the lock-table error the split answers took 16 s to come back here, and a plain halving would meet it
    again at every level down to that message."""
    try:
        return Isolated(store.write(batch))
    except psycopg.Error as exc:
        reason = message_fault(exc)  # the store raises psycopg errors for nothing else
        if reason is None:
            raise
        if len(batch) == 1:
            log.error("the database refused a message written alone",
                      extra={"reason": reason.value, "error": first_line(exc), "topic": batch.sources[0].topic})
            return Isolated(refused={0: Refusal(reason, first_line(exc))})
        log.warning("the database refused a batch for something a message can cause; splitting it",
                    extra={"error": first_line(exc), "batch": len(batch)})
    total = Isolated()
    for positions in halves_by_cost(batch):
        part = write_isolating_refusals(store, batch.part(positions))
        total.result = total.result + part.result.of_part(positions)
        total.refused.update({positions[i]: refusal for i, refusal in part.refused.items()})
    return total


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
