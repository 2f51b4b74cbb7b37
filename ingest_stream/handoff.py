"""The pipe protocol between the writer's two processes, both ways: every message that crosses it is declared here.

The receiver (the parent: MQTT sessions, acks) starts the worker (parse, batch, commit), sends it Start,
then chunks of received messages, Fence and Stop; the worker answers Ready, then Committed,
DatabaseFailed, LeaseLost and at last Stopped. Plain picklable data only, and neither process imports
the other: this module is all each knows of the other. A message's identity on the pipe is the
receiver's sequence number, never a broker packet id (packet ids repeat across connections and sessions).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from ingest_stream.settings import IngestSettings

# --- receiver -> worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """First: the settings to run with, and the lease whose token fences every commit (None: no lease)."""

    settings: IngestSettings
    lease_name: str | None


class Received(NamedTuple):
    """One received message as the worker knows it: what it needs to parse, write and report it."""

    seq: int  # the receiver's number for it; Committed reports these
    topic: str
    payload: bytes
    received_at: float  # wall clock (time.time()) at receipt


# Received messages, each as a plain tuple of Received's fields. A tuple pickles several times faster
# than the named tuple (measured: 0.09 vs 0.73 µs a message) on the receiver, whose one core is the
# writer's whole receive budget; the worker makes each a Received.
Chunk = list[tuple[int, str, bytes, float]]


@dataclass(frozen=True)
class Fence:
    """Fence every commit from now on with this lease token (None: commit nothing)."""

    token: int | None


@dataclass(frozen=True)
class Stop:
    """Everything has been sent; flush, commit, report and exit."""


# --- worker -> receiver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """The worker can take messages (the receiver connects to the broker only then)."""


@dataclass
class CommitSummary:
    """What one committed batch did, for the receiver's metrics and health."""

    batch_size: int
    inserted: int
    duplicates: int
    duration_s: float
    committed_at: float  # wall clock
    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome) -> count
    dead_letters: Counter[str] = field(default_factory=Counter)  # reason -> count
    publish_lags_s: list[float] = field(default_factory=list)  # live data only


@dataclass(frozen=True)
class Committed:
    """These messages are committed; the receiver may acknowledge them now."""

    seqs: list[int]
    summary: CommitSummary


@dataclass(frozen=True)
class DatabaseFailed:
    """A batch could not be written now and is being retried: the database is not healthy."""

    error: str


@dataclass(frozen=True)
class LeaseLost:
    """A commit fenced with `token` was refused; the worker dropped what it held."""

    token: int | None
    reason: str


@dataclass(frozen=True)
class Stopped:
    """The final flush is done; nothing more will be reported."""


ToWorker = Start | Chunk | Fence | Stop
ToReceiver = Ready | Committed | DatabaseFailed | LeaseLost | Stopped
