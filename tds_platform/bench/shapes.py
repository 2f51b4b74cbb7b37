"""The benchmark's messages: v1 telemetry with a fixed number of points, keyed so counts are predictable.

Pure: builds topics and payload bytes and names the series they land in; never sends or stores.
Message n of a backlog goes to equipment n % E at BACKLOG_START + n // E seconds, so N messages
of P points are exactly N x P distinct rows: a count check can prove no loss and no doubles.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

TENANT = "tdsbench"
SITE = "site-1"
EQUIPMENT = 100
# In the past (the writer refuses readings from the future) but inside its window (readings older than
# the raw retention are refused too), at a midnight, so every run's backlog lands in one day's chunk.
BACKLOG_START = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
TOPIC_TEMPLATE = f"tds/{TENANT}/{{site}}/{{equipment}}/{{kind}};tenant={TENANT}"

Message = tuple[str, bytes]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class MessageShape:
    points: int
    equipment: int = EQUIPMENT

    @property
    def metrics(self) -> list[str]:
        return [f"metric_{i}" for i in range(self.points)]

    @property
    def equipment_names(self) -> list[str]:
        return [f"eq-{i:03d}" for i in range(self.equipment)]

    def topic(self, n: int) -> str:
        return f"tds/{TENANT}/{SITE}/eq-{n % self.equipment:03d}/telem"

    def payload(self, n: int, ts: datetime) -> bytes:
        """A realistic v1 message (the parser benchmark's shape): float points with unit and quality."""
        return orjson.dumps({
            "schema": "v1",
            "ts": _iso(ts),
            "points": [{"name": f"metric_{i}", "t": "float", "v": (n % 1000) / 10 + i, "u": "°C", "q": "good"}
                       for i in range(self.points)],
            "meta": {},
        })

    def backlog_ts(self, n: int) -> datetime:
        return BACKLOG_START + timedelta(seconds=n // self.equipment)

    def backlog(self, count: int) -> Iterator[Message]:
        for n in range(count):
            yield self.topic(n), self.payload(n, self.backlog_ts(n))

    def live(self, n: int, now: float) -> Message:
        """Message n stamped with the wall time it is published at (the latency step's clock)."""
        return self.topic(n), self.payload(n, datetime.fromtimestamp(now, UTC))
