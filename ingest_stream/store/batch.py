"""A batch of parsed deliveries waiting for one commit; flushed on size or age.

It only collects: it never writes, acknowledges or parses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ingest_stream.delivery import Delivery
from ingest_stream.records import CommandAck, DeadLetter, Event, Parsed, Reading


@dataclass
class Batch:
    deliveries: list[Delivery] = field(default_factory=list)
    parsed: list[Parsed] = field(default_factory=list)
    opened_at: float = field(default_factory=time.monotonic)

    def add(self, delivery: Delivery, parsed: Parsed) -> None:
        if not self.deliveries:
            self.opened_at = time.monotonic()
        self.deliveries.append(delivery)
        self.parsed.append(parsed)

    def __len__(self) -> int:
        return len(self.deliveries)

    def age_s(self) -> float:
        return time.monotonic() - self.opened_at if self.deliveries else 0.0

    def readings(self) -> list[Reading]:
        return [r for p in self.parsed for r in p.readings]

    def events(self) -> list[Event]:
        return [e for p in self.parsed for e in p.events]

    def acks(self) -> list[CommandAck]:
        return [a for p in self.parsed for a in p.acks]

    def dead_letters(self) -> list[DeadLetter]:
        return [p.dead_letter for p in self.parsed if p.dead_letter is not None]
