"""A batch of parsed messages for one transaction: what the store writes; the worker fills it on size or age.

It only collects: it never writes, acknowledges or parses. Each message keeps where it came from (its
topic and exact payload), so one the database refuses can become a dead letter of those bytes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ingest_stream.records import CommandAck, DeadLetter, Event, Parsed, Reading


class Source(Protocol):
    """Where a parsed message came from: a message the worker received, or a dead letter being replayed."""

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> bytes: ...


S = TypeVar("S", bound=Source)


@dataclass
class Batch(Generic[S]):
    sources: list[S] = field(default_factory=list)
    parsed: list[Parsed] = field(default_factory=list)  # what each source parsed to, in the same order
    opened_at: float = field(default_factory=time.monotonic)

    def add(self, source: S, parsed: Parsed) -> None:
        if not self.sources:
            self.opened_at = time.monotonic()
        self.sources.append(source)
        self.parsed.append(parsed)

    def __len__(self) -> int:
        return len(self.sources)

    def age_s(self) -> float:
        return time.monotonic() - self.opened_at if self.sources else 0.0

    def part(self, positions: Sequence[int]) -> Batch[S]:
        """The messages at these positions, in the order given."""
        return Batch([self.sources[i] for i in positions], [self.parsed[i] for i in positions])

    def readings(self) -> list[Reading]:
        return [r for p in self.parsed for r in p.readings]

    def events(self) -> list[Event]:
        return [e for p in self.parsed for e in p.events]

    def acks(self) -> list[CommandAck]:
        return [a for p in self.parsed for a in p.acks]

    def dead_letters(self) -> list[DeadLetter]:
        return [p.dead_letter for p in self.parsed if p.dead_letter is not None]
