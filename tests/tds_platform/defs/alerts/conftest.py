"""Real local receivers for alert sinks (an HTTP webhook, an aiosmtpd SMTP server) and registry seeding.

The receivers are real servers on loopback, started per test, so sinks are exercised end to end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tds_platform.stack.layout import free_port


@dataclass
class WebhookReceiver:
    """`bodies` holds what it accepted; while `status` is an error it answers that and keeps
    nothing (counted in `refused`), as a receiver that is down for maintenance would."""

    url: str = ""
    status: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if receiver.status < 300:
                receiver.bodies.append(json.loads(body))
                receiver.content_types.append(self.headers["Content-Type"])
            else:
                receiver.refused += 1
            self.send_response(receiver.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet: the test asserts on what arrived."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class SmtpReceiver:
    """aiosmtpd on loopback: `messages` are the mails it accepted; `stop()`/`start()` take it down
    and bring it back on the same port (a mail server that is down, then back)."""

    port: int
    messages: list[Message] = field(default_factory=list)
    controller: Controller | None = None

    def start(self) -> None:
        receiver = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd calls it by this name)
                receiver.messages.append(message_from_bytes(envelope.original_content or b""))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(port=free_port())
    receiver.start()
    yield receiver
    receiver.stop()


SeriesFactory = Callable[..., int]


@pytest.fixture
def add_series(database_url: str) -> SeriesFactory:
    """Register one series (and its equipment); returns its series_id."""
    def add(equipment: str, metric: str, interval_s: float | None = None, tenant: str = "acme") -> int:
        with psycopg.connect(database_url) as conn:
            conn.execute("INSERT INTO tds.equipment (tenant, equipment) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (tenant, equipment))
            row = conn.execute("INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s) "
                               "VALUES (%s, %s, %s, %s) RETURNING series_id",
                               (tenant, equipment, metric, interval_s)).fetchone()
        assert row is not None
        return int(row[0])

    return add


@pytest.fixture
def add_readings(database_url: str) -> Callable[[int, Iterable[datetime]], None]:
    def add(series_id: int, times: Iterable[datetime]) -> None:
        with psycopg.connect(database_url) as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, 1)",
                            [(series_id, ts) for ts in times])

    return add
