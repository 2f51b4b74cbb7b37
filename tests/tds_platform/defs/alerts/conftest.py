"""Small local receivers for alert sinks (an HTTP webhook and an SMTP server) and registry seeding.

The receivers are real servers on loopback, started per test, so sinks are exercised end to end.
"""

from __future__ import annotations

import json
import socketserver
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


@dataclass
class WebhookReceiver:
    url: str = ""
    status: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.bodies.append(json.loads(body))
            receiver.content_types.append(self.headers["Content-Type"])
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
    port: int = 0
    messages: list[Message] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    """Just enough SMTP for smtplib: greeting, EHLO, MAIL, RCPT, DATA, QUIT."""
    receiver = SmtpReceiver()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: bytes) -> None:
            self.wfile.write(line + b"\r\n")

        def handle(self) -> None:
            self.reply(b"220 test ESMTP")
            data: list[bytes] | None = None
            while line := self.rfile.readline():
                if data is not None:
                    if line == b".\r\n":
                        receiver.messages.append(message_from_bytes(b"".join(data)))
                        data = None
                        self.reply(b"250 queued")
                    else:
                        data.append(line)
                    continue
                verb = line[:4].upper()
                if verb == b"DATA":
                    data = []
                    self.reply(b"354 end with .")
                elif verb == b"QUIT":
                    self.reply(b"221 bye")
                    return
                else:
                    self.reply(b"250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


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
