"""The pipe protocol between the writer's MQTT process (the parent) and its worker process, both ways.

Plain picklable data only. Deliveries travel as chunks of tuples (cheap to pickle); a delivery's
identity on the wire is the parent's sequence number, never a broker packet id.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest_stream.commits import CommitSummary

# (seq, topic, payload, received_at): what the worker needs to parse and write one delivery.
WireDelivery = tuple[int, str, bytes, float]


@dataclass(frozen=True)
class Fence:
    """Parent -> worker: fence every commit from now on with this lease token (None: commit nothing)."""

    token: int | None


@dataclass(frozen=True)
class Stop:
    """Parent -> worker: everything has been sent; flush, commit, report and exit."""


@dataclass(frozen=True)
class Ready:
    """Worker -> parent: the worker can take deliveries (the parent connects to the broker only then)."""


@dataclass(frozen=True)
class Committed:
    """Worker -> parent: these deliveries are committed; the parent may acknowledge them now."""

    seqs: list[int]
    summary: CommitSummary


@dataclass(frozen=True)
class DatabaseFailed:
    error: str


@dataclass(frozen=True)
class LeaseLost:
    """Worker -> parent: a commit fenced with `token` was refused; the worker dropped what it held."""

    token: int | None
    reason: str


@dataclass(frozen=True)
class Stopped:
    """Worker -> parent: the final flush is done; nothing more will be reported."""


ToWorker = list[WireDelivery] | Fence | Stop
ToParent = Ready | Committed | DatabaseFailed | LeaseLost | Stopped
