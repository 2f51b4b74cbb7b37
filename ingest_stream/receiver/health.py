"""Health and metrics over HTTP: /health, /health/mqtt, /health/database, /health/recent-data, /metrics.

Read-only views of the service state; a request must never block ingestion or change state, and never
costs the database more than a rate-limited probe: these endpoints answer anyone who can reach the port.
/health judges by what the writer does, not by what a ping says: messages waiting uncommitted while
nothing is committed is degraded, however healthy the database answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest_stream.logs import first_line
from ingest_stream.receiver.metrics import IngestMetrics

log = logging.getLogger("ingest_stream.health")


@dataclass
class HealthState:
    """Written by the service threads, read by HTTP handlers (plain attributes; GIL-atomic)."""

    instance_id: str
    mode: str
    started_at: float = field(default_factory=time.time)
    mqtt_connected: Callable[[], bool] = lambda: False
    queue_depth: Callable[[], int] = lambda: 0
    oldest_uncommitted_at: Callable[[], float | None] = lambda: None  # receipt time (wall clock) of the oldest
    database_ok: bool = True
    database_error: str | None = None
    last_commit_at: float | None = None
    standby: bool = False
    stalled_after_s: float = 30.0

    def stalled_s(self, now: float) -> float | None:
        """For how long messages have waited uncommitted while nothing was committed, once that is
        `stalled_after_s` or more; else None. A poison batch retried forever looked healthy: the
        database answered every ping."""
        oldest = self.oldest_uncommitted_at()
        if oldest is None:
            return None
        waited = now - max(oldest, self.last_commit_at or oldest)
        return round(waited, 1) if waited >= self.stalled_after_s else None

    def snapshot(self) -> dict[str, Any]:
        mqtt_ok = self.standby or self.mqtt_connected()
        stalled = self.stalled_s(time.time())
        return {
            "status": "ok" if mqtt_ok and self.database_ok and stalled is None else "degraded",
            "instance": self.instance_id,
            "mode": self.mode,
            "standby": self.standby,
            "uptime_s": round(time.time() - self.started_at, 1),
            "mqtt": {"connected": self.mqtt_connected()},
            "database": {"ok": self.database_ok, "error": self.database_error},
            "queue_depth": self.queue_depth(),
            "stalled_s": stalled,
            "last_commit_at": self.last_commit_at,
            "seconds_since_commit": None if self.last_commit_at is None
            else round(time.time() - self.last_commit_at, 3),
        }


class HealthServer:
    # An idle writer learns nothing about the database from its (absent) commits, so a probe
    # answers for it; probes are rate-limited so health checks never load the database. A writer
    # holding uncommitted messages is not idle: its writes say how the database is.
    PROBE_WHEN_IDLE_S = 10.0
    PROBE_EVERY_S = 5.0
    # The newest reading's age is asked of the database at most this often, however many ask us.
    RECENT_DATA_EVERY_S = 2.0

    def __init__(self, host: str, port: int, state: HealthState, metrics: IngestMetrics,
                 newest_reading_age_s: Callable[[], float | None], warning_s: float, critical_s: float,
                 ping_database: Callable[[], None] = lambda: None) -> None:
        self.state = state
        self.ping_database = ping_database
        self._last_probe = 0.0
        self.metrics = metrics
        self.newest_reading_age_s = newest_reading_age_s
        self._recent_lock = threading.Lock()
        self._recent: tuple[float, float | None, str | None] | None = None  # (asked at, age, error)
        self.warning_s = warning_s
        self.critical_s = critical_s
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="health-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _newest_reading_age(self) -> tuple[float | None, str | None]:
        """(age in seconds, None) or (None, error), asked of the database at most every RECENT_DATA_EVERY_S:
        each answer opened a connection of its own, for any request from anyone."""
        with self._recent_lock:
            now = time.monotonic()
            if self._recent is None or now - self._recent[0] >= self.RECENT_DATA_EVERY_S:
                try:
                    self._recent = (now, self.newest_reading_age_s(), None)
                except Exception as exc:  # a health probe reports failures, it never raises
                    self._recent = (now, None, first_line(exc))
            asked_at, age, error = self._recent
        return (None if age is None else age + now - asked_at), error

    def recent_data(self) -> tuple[int, dict[str, Any]]:
        age, error = self._newest_reading_age()
        if error is not None:
            return 503, {"status": "unknown", "error": error}
        if age is None:
            return 503, {"status": "critical", "seconds_since_newest": None, "detail": "no reading landed yet"}
        level = "ok" if age < self.warning_s else "warning" if age < self.critical_s else "critical"
        body = {"status": level, "seconds_since_newest": round(age, 1), "warning_s": self.warning_s,
                "critical_s": self.critical_s}
        return (503 if level == "critical" else 200), body

    def probe_if_idle(self) -> None:
        now = time.time()
        idle = ((self.state.last_commit_at is None or now - self.state.last_commit_at > self.PROBE_WHEN_IDLE_S)
                and self.state.oldest_uncommitted_at() is None)
        if not idle or self.state.standby or now - self._last_probe < self.PROBE_EVERY_S:
            return
        self._last_probe = now
        try:
            self.ping_database()
        except Exception as exc:  # a probe reports, it never raises
            self.state.database_ok = False
            self.state.database_error = first_line(exc)
        else:
            self.state.database_ok, self.state.database_error = True, None

    def route(self, path: str) -> tuple[int, bytes, str]:
        if path in ("/health", "/health/database"):
            self.probe_if_idle()
        snap = self.state.snapshot()
        if path == "/metrics":
            return 200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST
        if path == "/health":
            code, body = (200 if snap["status"] == "ok" else 503), snap
        elif path == "/health/mqtt":
            ok = snap["standby"] or snap["mqtt"]["connected"]
            code, body = (200 if ok else 503), {**snap["mqtt"], "standby": snap["standby"]}
        elif path == "/health/database":
            code, body = (200 if snap["database"]["ok"] else 503), snap["database"]
        elif path == "/health/recent-data":
            code, body = self.recent_data()
        else:
            return 404, b'{"error":"not found"}', "application/json"
        return code, orjson.dumps(body), "application/json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        route = self.route

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body, content_type = route(self.path.split("?", 1)[0].rstrip("/") or "/")
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return None

        return Handler
