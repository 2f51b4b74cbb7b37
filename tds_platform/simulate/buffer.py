"""A device's local memory of every reading it produced, bounded in time, answering window queries.

Readings land here whether or not they were published (a gap only silences the radio), so a
resend can repair what the platform missed; the buffer must never reach for the network.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left

from tds_platform.simulate.fleet import EquipmentKind, ValueType
from tds_platform.simulate.payloads import Point

QUALITY_CODES = {"good": 0, "uncertain": 1, "bad": 2}
QUALITY_NAMES = {code: name for name, code in QUALITY_CODES.items()}
ABSENT = 255  # the metric was not due on this tick


class DeviceBuffer:
    """Columnar (one array per metric) so a day of readings per device costs about a megabyte."""

    def __init__(self, kind: EquipmentKind, span_s: float, started_at: float) -> None:
        self.kind = kind
        self.span_s = span_s
        self.covers_from = started_at  # every reading produced since this instant is still held
        self._ts = array("d")
        self._values = {m.name: array("d") for m in kind.metrics}
        self._quality = {m.name: bytearray() for m in kind.metrics}

    def __len__(self) -> int:
        """Readings held (not ticks)."""
        return sum(len(q) - q.count(ABSENT) for q in self._quality.values())

    def add(self, ts: float, values: dict[str, float | bool], qualities: dict[str, str]) -> None:
        self._ts.append(ts)
        for name, column in self._values.items():
            value = values.get(name)
            column.append(math.nan if value is None else float(value))
            self._quality[name].append(ABSENT if value is None else QUALITY_CODES[qualities.get(name, "good")])
        self._evict(ts - self.span_s)

    def _evict(self, cutoff: float) -> None:
        # Trim in chunks of at least an eighth so appends stay amortised O(1).
        cut = bisect_left(self._ts, cutoff)
        if cut == 0 or cut < len(self._ts) // 8:
            return
        del self._ts[:cut]
        for name, column in self._values.items():
            del column[:cut]
            del self._quality[name][:cut]
        self.covers_from = self._ts[0] if self._ts else cutoff

    def covers(self, start: float, end: float, now: float) -> bool:
        """Whether every reading the device produced in [start, end) is held (nothing after `now` exists yet)."""
        return self.covers_from <= start and end <= now

    def between(self, start: float, end: float, metrics: frozenset[str] | None = None) -> list[Point]:
        """Held readings with start <= ts < end, oldest first, in the kind's metric order within a tick."""
        lo, hi = bisect_left(self._ts, start), bisect_left(self._ts, end)
        wanted = [m for m in self.kind.metrics if metrics is None or m.name in metrics]
        points = []
        for i in range(lo, hi):
            for metric in wanted:
                code = self._quality[metric.name][i]
                if code == ABSENT:
                    continue
                raw = self._values[metric.name][i]
                value: float | bool = bool(raw) if metric.type is ValueType.BOOL else raw
                points.append(Point(self._ts[i], metric, value, QUALITY_NAMES[code]))
        return points
