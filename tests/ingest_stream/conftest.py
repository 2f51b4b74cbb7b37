"""Fixtures for stream-writer tests: writer processes, a QoS 1 publisher, and row counts.

Each test gets its own database, tenant and topic filter, so writers of different tests never
see each other's messages on the shared session broker; broker sessions are removed afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from ingest_stream.broker import BrokerAddress
from ingest_stream.coordination.client_ids import load_key, writer_client_id
from ingest_stream.settings import IngestSettings
from tds_platform.bench import sessions
from tds_platform.stack import LocalStack
from tds_platform.stack.layout import free_port
from tests.servers import as_login

TDS_INGEST = str(Path(sys.executable).parent / "tds-ingest")
_tenants = itertools.count(1)
BASE_TS = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def v1(metric_values: dict[str, float], ts: datetime) -> bytes:
    points = [{"name": name, "t": "float", "v": value} for name, value in metric_values.items()]
    return json.dumps({"schema": "v1", "ts": ts.isoformat().replace("+00:00", "Z"), "points": points}).encode()


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Poll until `predicate()` is truthy; fail with `what` (a sentence about the expected state)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting until {what}")
        time.sleep(interval_s)


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text exposition -> {(sample name, labels): value}."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, label_text = head.partition("{")
        labels = frozenset(tuple(pair.split("=", 1)) for pair in label_text.rstrip("}").split(",") if pair)
        samples[(name, frozenset((k, v.strip('"')) for k, v in labels))] = float(value)
    return samples


def wipe_session(url: str, client_id: str) -> None:
    """The broker forgets the session and its queue (the benchmark's own clean-up, by URL)."""
    sessions.wipe_session(BrokerAddress.from_url(url), client_id)


@dataclass
class Publisher:
    """A device-side QoS 1 publisher that knows exactly which publishes the broker acknowledged."""

    url: str
    client_id: str
    acked: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        address = BrokerAddress.from_url(self.url)
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(address.username, address.password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.refused: set[int] = set()
        self.client.on_publish = self._on_publish
        self.client.connect(address.host, address.port)
        self.client.loop_start()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: object, _p: object) -> None:
        with self._lock:
            (self.refused if getattr(reason, "is_failure", False) else self.acked).add(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        return self.client.publish(topic, payload, qos=qos).mid

    def wait_acked(self, mids: list[int], timeout_s: float = 60) -> set[int]:
        """The subset of `mids` the broker acknowledged within the timeout."""
        wanted = set(mids)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if wanted <= self.acked | self.refused:
                    break
            time.sleep(0.02)
        with self._lock:
            return wanted & self.acked

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class WriterProcess:
    """One `tds-ingest run` process with its own health port."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    http_port: int = 0

    def start(self) -> WriterProcess:
        self.http_port = free_port()
        env = {**os.environ, **self.env, "TDS_HTTP_PORT": str(self.http_port), "TDS_HTTP_HOST": "127.0.0.1"}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([TDS_INGEST, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def health(self, path: str = "/health") -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_ready(self, timeout_s: float = 20) -> WriterProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"writer exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                code, body = self.health()
                if code == 200 and body["mqtt"]["connected"]:
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"writer not ready: {self.log_path.read_text()[-2000:]}")

    def wait_healthy(self, timeout_s: float = 20) -> WriterProcess:
        """Ready as an active writer or as a lease standby (which has no MQTT connection)."""
        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"writer exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                code, body = self.health()
            except (OSError, ValueError):
                return False
            return code == 200 and (body["standby"] or body["mqtt"]["connected"])

        wait_until(healthy, timeout_s, f"the writer is healthy ({self.log_path})")
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2) as response:
            return parse_metrics(response.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (sample, have), v in self.metrics().items() if sample == name and wanted <= have)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 20) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a test may have paused it
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PublishRun:
    """Readings published from a thread at a steady rate, so a test can inject a fault mid-stream."""

    def __init__(self, rig: IngestRig, publisher: Publisher, count: int, per_second: float,
                 equipment: str, start: datetime) -> None:
        self.rig = rig
        self.publisher = publisher
        self.count = count
        self.per_second = per_second
        self.equipment = equipment
        self.start = start
        self.sent: dict[int, datetime] = {}
        self.published = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="publish-run", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        for i in range(self.count):
            ts = self.start + timedelta(seconds=i)
            mid = self.publisher.publish(self.rig.topic(self.equipment), v1({"temp": float(i)}, ts))
            with self._lock:
                self.sent[mid] = ts
                self.published = i + 1
            ahead = (i + 1) / self.per_second - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)

    def wait_published(self, count: int, timeout_s: float = 30) -> None:
        wait_until(lambda: self.published >= count, timeout_s, f"{count} readings are published")

    def join(self, timeout_s: float = 60) -> dict[int, datetime]:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the publishing thread did not finish"
        return dict(self.sent)


@dataclass
class IngestRig:
    """Everything one writer test needs: its database, tenant, topics, writers and publisher."""

    stack: LocalStack
    database_url: str
    tenant: str
    tmp_path: Path
    writers: list[WriterProcess] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)
    client_ids: set[str] = field(default_factory=set)

    @property
    def topics(self) -> str:
        return f"tds/{self.tenant}/{{site}}/{{equipment}}/{{kind}};tenant={self.tenant}"

    def topic(self, equipment: str, kind: str = "telem", site: str = "plant-1") -> str:
        return f"tds/{self.tenant}/{site}/{equipment}/{kind}"

    def writer(self, instance: str, group: str | None = "g", **env: str | None) -> WriterProcess:
        """A writer of this rig's tenant; `env` adds settings, or takes one away with None."""
        settings = {
            "TDS_DATABASE_URL": as_login(self.database_url, "tds_ingest"),
            "TDS_MQTT_URL": self.stack.writer_mqtt_url(),
            "TDS_MQTT_TOPICS": self.topics,
            "TDS_INSTANCE_ID": f"{self.tenant}-{instance}",
            "TDS_BATCH_MAX_AGE_MS": "50",
            "TDS_HEARTBEAT_S": "0.5",
            "TDS_TAKEOVER_AFTER_S": "3",
            "TDS_LEASE_TTL_S": "3",
            # The tests publish readings of 2026-11-22 (BASE_TS), which the raw retention window of a
            # writer started months later refuses.
            "TDS_MAX_READING_AGE_DAYS": "3650",
        }
        settings = {key: value for key, value in {**settings, **env}.items() if value is not None}
        if group:
            settings["TDS_MQTT_GROUP"] = f"{self.tenant}-{group}"
        self.client_ids.add(self.client_id(settings))
        writer = WriterProcess(settings, self.tmp_path / f"writer-{instance}.log")
        self.writers.append(writer)
        return writer

    def client_id(self, env: dict[str, str]) -> str:
        """The client id a writer started with `env` connects with."""
        settings = IngestSettings(**{key.removeprefix("TDS_").lower(): value for key, value in env.items()})
        return writer_client_id(settings, load_key(self.database_url))

    def publisher(self, name: str = "dev") -> Publisher:
        publisher = Publisher(self.stack.device_mqtt_url(self.tenant), f"{self.tenant}-{name}")
        self.publishers.append(publisher)
        return publisher

    def publish_readings(self, publisher: Publisher, count: int, equipment: str = "ch-1",
                         start: datetime = BASE_TS, step_s: float = 1.0, pause_every: int = 0,
                         pause_s: float = 0.0) -> dict[int, datetime]:
        """`count` single-point messages with distinct timestamps; returns mid -> reading ts."""
        sent: dict[int, datetime] = {}
        for i in range(count):
            ts = start + timedelta(seconds=i * step_s)
            sent[publisher.publish(self.topic(equipment), v1({"temp": float(i)}, ts))] = ts
            if pause_every and i % pause_every == pause_every - 1:
                time.sleep(pause_s)
        return sent

    def publish_in_background(self, publisher: Publisher, count: int, per_second: float = 1000,
                              equipment: str = "ch-1", start: datetime = BASE_TS) -> PublishRun:
        return PublishRun(self, publisher, count, per_second, equipment, start)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def reading_count(self) -> int:
        return int(self.query("SELECT count(*) FROM tds.telemetry_raw")[0][0])

    def wait_for_rows(self, expected: int, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        count = self.reading_count()
        while count < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            count = self.reading_count()
        return count

    def landed_timestamps(self, equipment: str = "ch-1") -> list[datetime]:
        rows = self.query("SELECT ts FROM tds.telemetry WHERE tenant = %s AND equipment = %s ORDER BY ts",
                          self.tenant, equipment)
        return [r[0] for r in rows]

    def dead_letters(self) -> list[tuple[str, bytes, str, str, str]]:
        """(topic, payload, reason, detail, instance) of every tds.dlq row, oldest first."""
        rows = self.query("SELECT topic, payload, reason, detail, instance FROM tds.dlq ORDER BY id")
        return [(topic, bytes(payload), reason, detail, instance) for topic, payload, reason, detail, instance in rows]

    def member_states(self) -> dict[str, str]:
        return dict(self.query("SELECT instance_id, state FROM tds.ingest_members"))

    def assert_exactly_once(self, sent: dict[int, datetime], acked: set[int], equipment: str = "ch-1") -> None:
        """Every acknowledged publish is a row and no row is doubled (the key makes doubles impossible,
        so also check nothing landed that was never sent)."""
        landed = self.landed_timestamps(equipment)
        assert len(landed) == len(set(landed))
        expected = {sent[mid] for mid in acked}
        missing = expected - set(landed)
        assert not missing, f"{len(missing)} acknowledged readings never landed, e.g. {sorted(missing)[:3]}"
        assert set(landed) <= set(sent.values())

    def close(self) -> None:
        for writer in self.writers:
            writer.stop()
        for publisher in self.publishers:
            publisher.close()
        for client_id in self.client_ids:
            wipe_session(self.stack.writer_mqtt_url(), client_id)


@pytest.fixture
def rig(stack: LocalStack, database_url: str, tmp_path: Path) -> Iterator[IngestRig]:
    tenant = f"w{os.getpid() % 1000}x{next(_tenants)}"
    setup = IngestRig(stack, database_url, tenant, tmp_path)
    yield setup
    setup.close()

