"""Drives a Simulation through time: history as fast as the broker acknowledges, then live time.

It owns the clock and the order of things (released late messages, new readings, command answers);
it must never build payloads or decide faults — the Simulation does that.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import IO, Protocol

from tds_platform.simulate.commands import Outgoing
from tds_platform.simulate.fleet import Device, build_fleet
from tds_platform.simulate.settings import SimulatorSettings
from tds_platform.simulate.simulation import Simulation, fleet_ticks

REPORT_EVERY_S = 30.0
STOP_POLL_S = 0.2  # how quickly a waiting live loop notices Ctrl-C / SIGTERM


class Transport(Protocol):
    commands: queue.Queue[tuple[str, bytes]]

    def publish(self, message: Outgoing) -> None: ...

    def flush(self) -> None: ...


class PrintTransport:
    """`--dry-run`: one `topic payload` line per message instead of a broker (never any commands)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.commands: queue.Queue[tuple[str, bytes]] = queue.Queue()

    def publish(self, message: Outgoing) -> None:
        self.stream.write(f"{message.topic} {message.payload.decode('utf-8', 'backslashreplace')}\n")

    def flush(self) -> None:
        self.stream.flush()


class MemoryTransport:
    """Keeps what would have been published, in order: the expected bytes for tests and benchmarks."""

    def __init__(self) -> None:
        self.commands: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.sent: list[Outgoing] = []

    def publish(self, message: Outgoing) -> None:
        self.sent.append(message)

    def flush(self) -> None:
        """Nothing is in flight in memory."""


class SimClock:
    """Simulated time that starts at `start` and runs `speed` times faster than the wall clock."""

    def __init__(self, start: float, speed: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.start, self.speed, self._monotonic = start, speed, monotonic
        self._origin = monotonic()

    def now(self) -> float:
        return self.start + (self._monotonic() - self._origin) * self.speed

    def wall_seconds_until(self, instant: float) -> float:
        return (instant - self.now()) / self.speed


class Runner:
    def __init__(self, simulation: Simulation, transport: Transport,
                 report: Callable[[Counter[str]], None] | None = None, stop: threading.Event | None = None) -> None:
        self.simulation = simulation
        self.stop = stop or threading.Event()
        self.transport = transport
        self.report = report
        self.published = 0
        self._last_report = time.monotonic()

    def _send(self, messages: list[Outgoing]) -> None:
        for message in messages:
            self.transport.publish(message)
        self.published += len(messages)

    def _step(self, tick: int, device: Device) -> None:
        self._send(self.simulation.released(tick) + self.simulation.produce(device, tick))

    def _answer_commands(self, now: float, wait_s: float = 0.0) -> None:
        """Answer every queued command; wait up to `wait_s` for one to arrive (the live loop's sleep)."""
        deadline = time.monotonic() + wait_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                topic, payload = self.transport.commands.get(timeout=min(max(0.0, remaining), STOP_POLL_S))
            except queue.Empty:
                if remaining <= STOP_POLL_S or self.stop.is_set():
                    return
                continue
            self._send(self.simulation.command(topic, payload, now))

    def _maybe_report(self) -> None:
        if self.report and time.monotonic() - self._last_report >= REPORT_EVERY_S:
            self._last_report = time.monotonic()
            self.report(self.stats())

    def stats(self) -> Counter[str]:
        return self.simulation.stats + Counter(published=self.published)

    def history(self, start: int, end: int) -> None:
        """Every tick in [start, end) at once; commands are answered between ticks with the tick as now."""
        for tick, device in fleet_ticks(self.simulation.devices, start, end):
            if self.stop.is_set():
                return
            self._step(tick, device)
            self._answer_commands(tick)
            self._maybe_report()

    def live(self, clock: SimClock, end: float | None) -> None:
        """Ticks from the clock's start on, each published when simulated time reaches it."""
        for tick, device in fleet_ticks(self.simulation.devices, int(clock.start), None if end is None else int(end)):
            while (wait := clock.wall_seconds_until(tick)) > 0:
                if self.stop.is_set():
                    return
                self.transport.flush()
                self._answer_commands(clock.now(), wait_s=wait)
            self._step(tick, device)
            self._answer_commands(clock.now())
            self._maybe_report()
        if end is not None:
            while (wait := clock.wall_seconds_until(end)) > 0 and not self.stop.is_set():
                self._answer_commands(clock.now(), wait_s=wait)

    def finish(self, now: float) -> None:
        """Release every late message still held, so a finite run leaves nothing unsent."""
        self._send(self.simulation.released(float("inf")))
        self._answer_commands(now)
        self.transport.flush()


def run(settings: SimulatorSettings, transport: Transport, now: int,
        report: Callable[[Counter[str]], None] | None = None, stop: threading.Event | None = None) -> Counter[str]:
    """History up to `now`, then live time until `settings.duration` (forever if unset) or `stop`."""
    history_start = now - int(settings.history)
    devices = build_fleet(settings.fleet_shape(), settings.seed)
    simulation = Simulation(devices, settings.seed, settings.fault_rates(), settings.buffer, history_start)
    runner = Runner(simulation, transport, report, stop)
    clock = SimClock(now, settings.speed)
    try:
        runner.history(history_start, now)
        if settings.duration != 0:
            runner.live(clock, None if settings.duration is None else now + settings.duration)
    finally:
        runner.finish(max(clock.now(), now))
    return runner.stats()
