"""The fleet in motion, without a network: ticks in time order, readings into buffers, faults applied.

Given a tick it returns the exact messages to publish (and when), so the same seed and times give
the same bytes in history and real-time mode; it must never sleep, read a clock or publish.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterator

from tds_platform.simulate import payloads
from tds_platform.simulate.buffer import DeviceBuffer
from tds_platform.simulate.commands import Outgoing, answer
from tds_platform.simulate.faults import FaultRates, FaultSchedule
from tds_platform.simulate.fleet import Device
from tds_platform.simulate.payloads import Point
from tds_platform.simulate.signals import measure


def device_ticks(device: Device, start: int) -> Iterator[int]:
    """This device's reporting instants from `start` on (whole seconds, on its own phase)."""
    first = start + (device.phase_s - start) % device.interval_s
    return itertools.count(first, device.interval_s)


def fleet_ticks(devices: tuple[Device, ...], start: int, end: int | None = None) -> Iterator[tuple[int, Device]]:
    """Every (tick, device) with start <= tick < end, in time order (ties in fleet order)."""
    streams = [zip(device_ticks(d, start), itertools.repeat(i), strict=False) for i, d in enumerate(devices)]
    for tick, i in heapq.merge(*streams):
        if end is not None and tick >= end:
            return
        yield tick, devices[i]


class Simulation:
    def __init__(self, devices: tuple[Device, ...], seed: int, faults: FaultRates, buffer_span_s: float,
                 started_at: float) -> None:
        self.devices = devices
        self.seed = seed
        self.schedule = FaultSchedule(faults, seed)
        self.buffers = {d.key: DeviceBuffer(d.kind, buffer_span_s, started_at) for d in devices}
        self._by_topic = {(d.tenant, d.site, d.equipment): d for d in devices}
        self._held: list[tuple[float, int, Outgoing]] = []
        self._held_order = itertools.count()
        self.stats: Counter[str] = Counter()

    def produce(self, device: Device, tick: int) -> list[Outgoing]:
        """Measure one tick, remember it, and return what goes out now (late messages are held)."""
        ts = float(tick + self.schedule.clock_offset_s(device))
        points, qualities = [], {}
        for name, value in measure(self.seed, device, tick).items():
            metric = device.kind.metric(name)
            fault = self.schedule.point(device, tick, metric)
            if fault.value is not None:
                value = fault.value
                self.stats["out_of_range_points"] += 1
            if fault.quality:
                qualities[name] = fault.quality
                self.stats["bad_quality_points"] += 1
            points.append(Point(ts, metric, value, fault.quality or "good"))
        self.buffers[device.key].add(ts, {p.metric.name: p.value for p in points}, qualities)
        self.stats["readings"] += len(points)
        if self.schedule.silent(device, tick):
            self.stats["messages_silenced_by_gap"] += 1
            return []
        payload = payloads.telemetry(ts, points)
        faults = self.schedule.message(device, tick)
        if faults.malformed:
            payload = payloads.malformed(faults.malformed, payload, self.seed, device.tenant, device.equipment, tick)
            self.stats[f"malformed_{faults.malformed.value}"] += 1
        message = Outgoing(device.tenant, device.topic("telem"), payload)
        copies = [message, message] if faults.duplicate else [message]
        self.stats["duplicates"] += len(copies) - 1
        if faults.late_s:
            self.stats["late_messages"] += len(copies)
            for copy in copies:
                heapq.heappush(self._held, (tick + faults.late_s, next(self._held_order), copy))
            return []
        return copies

    def released(self, now: float) -> list[Outgoing]:
        """Held-back (late) messages whose time has come, in the order they fall due."""
        out = []
        while self._held and self._held[0][0] <= now:
            out.append(heapq.heappop(self._held)[2])
        return out

    def command(self, topic: str, payload: bytes, now: float) -> list[Outgoing]:
        """The answer of the device a `tds/{tenant}/{site}/{equipment}/cmd` topic addresses, if it exists."""
        parts = topic.split("/")
        device = self._by_topic.get(tuple(parts[1:4])) if len(parts) == 5 and parts[4] == "cmd" else None
        if device is None:
            self.stats["commands_ignored"] += 1
            return []
        self.stats["commands"] += 1
        return answer(device, self.buffers[device.key], payload, now)
