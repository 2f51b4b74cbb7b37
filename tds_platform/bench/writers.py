"""Real `tds-ingest run` processes for the benchmark, watched through their own /health and /metrics.

The writer runs exactly as deployed (its defaults, plus the addresses the run names); the
benchmark only observes it — progress from /metrics, memory from /proc — and never reaches inside.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

from ingest_stream.broker import BrokerAddress
from ingest_stream.coordination.client_ids import load_key, writer_client_id
from ingest_stream.parsing import parse_templates
from ingest_stream.receiver.service import subscription_filters
from ingest_stream.settings import IngestSettings
from tds_platform.bench.sessions import prime_session, wipe_session
from tds_platform.bench.shapes import TOPIC_TEMPLATE
from tds_platform.stack.layout import free_port

POINTS = "tds_ingest_points_total"
DUPLICATES = "tds_ingest_duplicates_total"
MESSAGES = "tds_ingest_messages_total"
LATENCY = "tds_ingest_publish_to_commit_seconds"


class WriterError(Exception):
    """A writer process exited, never connected, or stopped making progress."""


@dataclass
class Scrape:
    """One /metrics read: sample totals by name, and one histogram's cumulative buckets."""

    totals: dict[str, float]
    buckets: dict[float, float]

    def total(self, name: str) -> float:
        return self.totals.get(name, 0.0)


def writer_settings(database_url: str, mqtt_url: str, instance_id: str, group: str | None) -> IngestSettings:
    return IngestSettings(database_url=database_url, mqtt_url=mqtt_url, mqtt_topics=TOPIC_TEMPLATE,
                          mqtt_group=group, instance_id=instance_id, http_host="127.0.0.1", http_port=free_port())


def _child_environment(settings: IngestSettings) -> dict[str, str]:
    """The resolved settings as TDS_ variables, replacing any the caller's shell set: the process runs
    with exactly the settings this run reports."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    resolved = {f"TDS_{name.upper()}": str(value) for name, value in settings.model_dump().items()
                if value is not None}
    return inherited | resolved


@dataclass
class WriterProcess:
    settings: IngestSettings
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    connected_at: float | None = None
    rss_peak_polled: int = field(default=0)

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress.from_url(self.settings.mqtt_url)

    @functools.cached_property
    def client_id(self) -> str:
        """The writer's own client id, as it derives it from the database at start."""
        return writer_client_id(self.settings, load_key(self.settings.database_url))

    @property
    def filters(self) -> tuple[str, ...]:
        return subscription_filters(self.settings, parse_templates(self.settings.mqtt_topics))

    def prime(self) -> None:
        """Create this writer's broker session (its client id, its filters) so a backlog queues for it."""
        prime_session(self.address, self.client_id, self.filters)

    def wipe(self) -> None:
        wipe_session(self.address, self.client_id)

    def start(self) -> WriterProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "ingest_stream.cli", "run"],
                                         env=_child_environment(self.settings), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def _get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.settings.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise WriterError(f"the writer exited with code {self.proc.returncode}; see {self.log_path}")

    def wait_connected(self, timeout_s: float = 60.0) -> float:
        """Monotonic time at which /health/mqtt first answered 200 (polled every 20 ms)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if self._get("/health/mqtt")[0] == 200:
                    self.connected_at = time.monotonic()
                    return self.connected_at
            except OSError:
                pass
            time.sleep(0.02)
        raise WriterError(f"the writer did not connect to the broker within {timeout_s:.0f}s; see {self.log_path}")

    def scrape(self, histogram: str = LATENCY) -> Scrape:
        self._check_alive()
        _, body = self._get("/metrics")
        totals: dict[str, float] = {}
        buckets: dict[float, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
                if sample.name == f"{histogram}_bucket":
                    buckets[float(sample.labels["le"])] = sample.value
        return Scrape(totals, buckets)

    def health(self) -> dict[str, object]:
        return dict(json.loads(self._get("/health")[1]))

    def _processes(self) -> list[psutil.Process]:
        """The writer and every process it started (its worker): memory is counted for all of them."""
        assert self.proc is not None
        parent = psutil.Process(self.proc.pid)
        return [parent, *parent.children(recursive=True)]

    def rss(self) -> int:
        rss = 0
        for process in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                rss += int(process.memory_info().rss)
        self.rss_peak_polled = max(self.rss_peak_polled, rss)
        return rss

    def high_water_mark(self) -> int | None:
        """VmHWM: the kernel's own peak-RSS record (Linux), in bytes, summed over the writer's processes
        (an upper bound: their peaks need not coincide)."""
        total = 0
        for process in self._processes():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except OSError:
                return None
            peaks = [int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
            if not peaks:
                return None
            total += peaks[0]
        return total

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (the writer flushes, commits, acks, exits 0); SIGKILL only if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def landed(writer: WriterProcess) -> float:
    """Readings this writer newly landed; a redelivery counts as a duplicate, never here."""
    return writer.scrape().total(POINTS)


def wait_for_points(writers: Sequence[WriterProcess], expected: int, stall_s: float = 60.0, poll_s: float = 0.1,
                    on_poll: Callable[[], object] | None = None) -> float:
    """Poll the writers' counters until `expected` readings are landed; the monotonic time that was seen.

    Raises WriterError if the count does not move for `stall_s`.
    """
    progress, moved_at = -1.0, time.monotonic()
    while True:
        done = sum(landed(w) for w in writers)
        now = time.monotonic()
        if on_poll is not None:
            on_poll()
        if done >= expected:
            return now
        if done > progress:
            progress, moved_at = done, now
        elif now - moved_at > stall_s:
            raise WriterError(f"the writers stopped at {done:,.0f} of {expected:,} readings for {stall_s:.0f}s")
        time.sleep(poll_s)
