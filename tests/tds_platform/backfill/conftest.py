"""A real stream writer and tiny fake devices on the session broker, over known gaps.

Each test gets its own database and tenant (its writer only subscribes to that tenant), series
with a 10 s interval whose readings are landed directly except for silences (the gaps; one
equipment may have several metrics and several silences), and devices that answer resend commands
from their own memory of every reading: accepted -> readings -> done, or partial (they forgot the
end of the window), an error, or nothing at all.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from ingest_stream.broker import BrokerAddress
from ingest_stream.coordination.client_ids import load_key, writer_client_id
from ingest_stream.settings import IngestSettings
from tds_platform.backfill.answers import AnswerJudge, Verdict
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.db.engine import engine_for
from tds_platform.stack import LocalStack
from tests.ingest_stream.conftest import WriterProcess, wipe_session
from tests.servers import as_login

INTERVAL_S = 10
_tenants = itertools.count(1)
# Quick enough for tests, long enough for a loaded 2-core machine.
FAST = BackfillSettings(margin_s=20, answer_timeout_s=20, settle_s=0.5)
GAP_FACTOR = 3.0


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def judged(url: str, settings: BackfillSettings, cmd_id: str, timeout_s: float = 60) -> Verdict:
    """Look at the waiting commands as the backfill_answers sensor does, a few times a second, until
    `cmd_id` is judged; its verdict."""
    judge = AnswerJudge(engine_for(url), settings, GAP_FACTOR)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for verdict in judge.look(datetime.now(UTC)):
            if verdict.cmd_id == cmd_id:
                return verdict
        time.sleep(0.1)
    raise AssertionError(f"command {cmd_id} was not judged within {timeout_s:g} s")


def _client(url: str, client_id: str) -> mqtt.Client:
    address = BrokerAddress.from_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(address.username, address.password)
    client.connect(address.host, address.port)
    return client


@dataclass
class FakeDevice:
    """Answers `resend` on its cmd topic from `memory` (every reading it ever took), per the resend protocol."""

    url: str
    tenant: str
    site: str
    equipment: str
    memory: list[datetime]
    mode: str = "done"  # done | partial | error | silent
    forget_after: datetime | None = None  # partial: readings after this were evicted
    metrics: tuple[str, ...] = ("temp",)  # each read at every instant of `memory`
    commands: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.subscribed = threading.Event()
        self.client = _client(self.url, f"{self.tenant}-{self.equipment}-dev")
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic("cmd"), qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.loop_start()
        assert self.subscribed.wait(10), "the fake device could not subscribe to its cmd topic"

    def topic(self, kind: str) -> str:
        return f"tds/{self.tenant}/{self.site}/{self.equipment}/{kind}"

    def _ack(self, cmd_id: str, status: str, detail: str | None = None) -> None:
        body = {"schema": "v1", "cmd_id": cmd_id, "status": status, "ts": iso(datetime.now(UTC))}
        if detail:
            body["detail"] = detail
        self.client.publish(self.topic("ack"), json.dumps(body), qos=1)

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        command = json.loads(message.payload)
        self.commands.append(command)
        if self.mode == "silent":
            return
        if self.mode == "error":
            self._ack(command["cmd_id"], "error", "buffer unavailable")
            return
        start, end = (datetime.fromisoformat(command["args"][k]) for k in ("from", "to"))
        metrics = command["args"].get("metrics", self.metrics)
        held = [(ts, metric) for ts in self.memory if start <= ts < end
                and (self.forget_after is None or ts <= self.forget_after) for metric in metrics]
        self._ack(command["cmd_id"], "accepted")
        for i in range(0, len(held), 100):
            points = [{"name": metric, "t": "float", "v": 20.0, "ts": iso(ts)} for ts, metric in held[i:i + 100]]
            payload = {"schema": "v1", "ts": iso(datetime.now(UTC)), "points": points,
                       "meta": {"resend": command["cmd_id"]}}
            self.client.publish(self.topic("telem"), json.dumps(payload), qos=1)
        status = "partial" if self.mode == "partial" else "done"
        self._ack(command["cmd_id"], status, f"{len(held)} readings resent")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class BackfillRig:
    """One tenant's writer, device and series with a known gap (gap_start/gap_end: readings around it)."""

    stack: LocalStack
    url: str
    tenant: str
    tmp_path: Path
    site: str = "plant-1"
    equipment: str = "ch-1"
    writer: WriterProcess | None = None
    devices: list[FakeDevice] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Recent enough for the writer's timestamp checks; minutes-aligned so the numbers below are exact.
        self.t0 = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        self.every = [self.t0 + timedelta(seconds=INTERVAL_S * k) for k in range(60)]  # 10 minutes
        self.gap_start, self.gap_end = self.every[17], self.every[36]  # 18..35 never arrived: 18 readings
        self.missing = self.every[18:36]

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def seed(self, interval_s: float | None = INTERVAL_S) -> int:
        """The registry, every reading except the silence, and the gap row; returns the gap id."""
        return self.seed_equipment(self.equipment, {"temp": [(17, 36)]}, interval_s)[0]

    def seed_equipment(self, equipment: str, silences: dict[str, list[tuple[int, int]]],
                       interval_s: float | None = INTERVAL_S) -> list[int]:
        """An equipment with one series per metric of `silences`, each missing the readings strictly
        between the `every` indexes of each of its silences, and one gap row per silence; returns
        the gap ids in the order given."""
        gap_ids = []
        with psycopg.connect(self.url) as conn:
            conn.execute("INSERT INTO tds.equipment (tenant, equipment, site) VALUES (%s, %s, %s)",
                         (self.tenant, equipment, self.site))
            for metric, spans in silences.items():
                series_id = conn.execute(
                    "INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s) "
                    "VALUES (%s, %s, %s, %s) RETURNING series_id", (self.tenant, equipment, metric, interval_s),
                ).fetchone()[0]
                missing = {self.every[k] for first, last in spans for k in range(first + 1, last)}
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, 20.0)",
                                    [(series_id, ts) for ts in self.every if ts not in missing])
                for first, last in spans:
                    start, end = self.every[first], self.every[last]
                    gap_ids.append(conn.execute(
                        "INSERT INTO tds.gaps (tenant, equipment, metric, series_id, gap_start, gap_end, duration_s) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                        (self.tenant, equipment, metric, series_id, start, end, (end - start).total_seconds()),
                    ).fetchone()[0])
        return gap_ids

    def gap(self, gap_id: int) -> dict:
        with psycopg.connect(self.url, row_factory=psycopg.rows.dict_row) as conn:
            return conn.execute("SELECT * FROM tds.gaps WHERE id = %s", (gap_id,)).fetchone()

    def landed(self, equipment: str | None = None, metric: str = "temp") -> list[datetime]:
        rows = self.query("SELECT ts FROM tds.telemetry WHERE tenant = %s AND equipment = %s AND metric = %s "
                          "ORDER BY ts", self.tenant, equipment or self.equipment, metric)
        return [row[0] for row in rows]

    def device(self, mode: str = "done", forget_after: datetime | None = None, equipment: str | None = None,
               metrics: tuple[str, ...] = ("temp",), memory: list[datetime] | None = None) -> FakeDevice:
        equipment = equipment or self.equipment
        device = FakeDevice(self.stack.device_mqtt_url(self.tenant, equipment), self.tenant, self.site,
                            equipment, memory or self.every, mode, forget_after, metrics)
        self.devices.append(device)
        return device

    @property
    def writer_client_id(self) -> str:
        return writer_client_id(IngestSettings(instance_id=f"{self.tenant}-w"), load_key(self.url))

    def start_writer(self) -> None:
        self.writer = WriterProcess({
            "TDS_DATABASE_URL": as_login(self.url, "tds_ingest"), "TDS_MQTT_URL": self.stack.writer_mqtt_url(),
            "TDS_MQTT_TOPICS": f"tds/{self.tenant}/{{site}}/{{equipment}}/{{kind}};tenant={self.tenant}",
            "TDS_INSTANCE_ID": f"{self.tenant}-w", "TDS_BATCH_MAX_AGE_MS": "50",
        }, self.tmp_path / "writer.log").start().wait_ready(timeout_s=30)

    def close(self) -> None:
        for device in self.devices:
            device.close()
        if self.writer is not None:
            self.writer.stop()
        wipe_session(self.stack.writer_mqtt_url(), self.writer_client_id)


@pytest.fixture
def fast() -> BackfillSettings:
    return FAST


@pytest.fixture
def rig(stack: LocalStack, database_url: str, tmp_path: Path) -> Iterator[BackfillRig]:
    setup = BackfillRig(stack, database_url, f"bf{os.getpid() % 1000}x{next(_tenants)}", tmp_path)
    yield setup
    setup.close()
