"""The receiver's end of the worker process: starts it, streams deliveries to it, applies its commit reports.

Only a Committed report read from the worker settles deliveries. If the worker dies, nothing more
is acknowledged: WorkerGoneError tells the service to exit non-zero (the broker redelivers). What
crosses the pipe is declared in handoff.py; the worker's code is never imported here.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from ingest_stream.coordination.lease import LeaseLostError
from ingest_stream.handoff import (
    Chunk,
    Committed,
    DatabaseFailed,
    Fence,
    LeaseLost,
    Ready,
    Start,
    Stop,
    Stopped,
    ToReceiver,
    ToWorker,
)
from ingest_stream.receiver.commits import CommitRecorder
from ingest_stream.receiver.delivery import Delivery
from ingest_stream.receiver.metrics import IngestMetrics
from ingest_stream.settings import IngestSettings

log = logging.getLogger("ingest_stream.link")


class WorkerGoneError(Exception):
    """The worker process exited or its pipe broke: what it held is uncommitted and stays unacknowledged."""


class WorkerLink:
    def __init__(self, settings: IngestSettings, lease_name: str | None, recorder: CommitRecorder,
                 metrics: IngestMetrics) -> None:
        self.settings = settings
        self.lease_name = lease_name
        self.recorder = recorder
        self.metrics = metrics
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._seq = 0
        # Received and not yet committed, by seq (oldest first): at most `limit` of them and, give or take
        # the last one read, `byte_limit` payload bytes; the sessions pause reading at either bound.
        self._inflight: dict[int, Delivery] = {}
        self._inflight_bytes = 0
        self.limit = settings.effective_receive_maximum
        self.byte_limit = settings.max_uncommitted_bytes
        self._outbox: Chunk = []
        self._token: int | None = None
        self._stop_sent = False  # the worker reads nothing after Stop: sending more could block forever
        self._stopped = False
        self._conn: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the worker and wait until it can take deliveries (the broker's queue waits meanwhile)."""
        # A fresh interpreter (never a fork of a process with paho and HTTP threads running), without
        # multiprocessing's extra resource-tracker process: the pipe is a socket pair it inherits.
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "ingest_stream.worker.process", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        self._conn = Connection(ours.detach())
        self._send(Start(self.settings, self.lease_name))
        try:
            ready = self._conn.poll(timeout_s) and isinstance(self._conn.recv(), Ready)
        except (EOFError, OSError):
            ready = False
        if not ready:
            raise WorkerGoneError(f"the worker process did not start within {timeout_s:.0f}s")
        log.info("worker process ready", extra={"worker_pid": self._process.pid})

    def wait_for_room(self, timeout_s: float) -> bool:
        """True when fewer than `limit` deliveries and fewer than `byte_limit` payload bytes are held (waits
        up to `timeout_s` for that). Counting messages alone let eight 48 MB payloads into memory at once.

        Asked without waiting before every delivery, it answers "yes" without the lock (a Condition round per
        message was a tenth of the receiving thread): commits only ever free room, and the answer is a moment
        old either way, the check and the caller's submit were never one atomic step."""
        if timeout_s <= 0 and len(self._inflight) < self.limit and self._inflight_bytes < self.byte_limit:
            return True
        with self._room:
            return self._room.wait_for(
                lambda: len(self._inflight) < self.limit and self._inflight_bytes < self.byte_limit, timeout_s)

    def oldest_uncommitted_at(self) -> float | None:
        """When the oldest delivery held uncommitted was received (wall clock), or None when none is held."""
        with self._lock:
            oldest = next(iter(self._inflight.values()), None)
        return None if oldest is None else oldest.received_at

    def submit(self, delivery: Delivery) -> None:
        """Called on the MQTT network threads: number it and queue it for the next chunk, nothing else."""
        with self._lock:
            self._seq += 1
            self._inflight[self._seq] = delivery
            self._inflight_bytes += len(delivery.payload)
            self._outbox.append((self._seq, delivery.topic, delivery.payload, delivery.received_at))

    def follow(self, token: int | None) -> None:
        """From now on the worker fences its commits with this lease token (None: it commits nothing)."""
        self._token = token
        self._send(Fence(token))

    def discard(self) -> int:
        """The lease is lost: forget what is in flight (the next leader gets it again) and fence the worker."""
        with self._lock:
            dropped = len(self._inflight)
            self._inflight.clear()
            self._inflight_bytes = 0
            self._outbox.clear()
            self._room.notify_all()
        self.follow(None)
        return dropped

    def step(self, wait_s: float = 0.005) -> None:
        """Send what arrived, then apply the worker's reports for up to `wait_s`. Raises LeaseLostError
        when the worker's fence refused the current lease, WorkerGoneError when the worker is gone."""
        assert self._conn is not None and self._process is not None
        with self._lock:
            chunk, self._outbox = self._outbox, []
        if chunk and not self._stop_sent:
            self._send(chunk)
        try:
            ready = self._conn.poll(wait_s)
            while ready and not self._stopped:  # after Stopped the worker exits: its EOF is no death
                self._apply(self._conn.recv())
                ready = self._conn.poll(0)
        except (EOFError, OSError) as exc:
            raise WorkerGoneError(self._death()) from exc
        self.metrics.queue_depth.set(len(self._inflight))
        if not self._stopped and self._process.poll() is not None:
            raise WorkerGoneError(self._death())

    def check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise WorkerGoneError(self._death())

    def finish(self, deadline_s: float = 7.0) -> None:
        """Stop the worker after it flushed, applying its last reports (so their deliveries are acked)."""
        if self._process is None or self._process.poll() is not None:
            self.close()
            return
        try:
            self.step(wait_s=0)
            self._send(Stop())
            self._stop_sent = True
            give_up_at = time.monotonic() + deadline_s
            while not self._stopped and time.monotonic() < give_up_at:
                try:
                    self.step(wait_s=0.05)
                except LeaseLostError as exc:
                    log.warning("lease lost during the final flush", extra={"reason": str(exc)})
        except WorkerGoneError as exc:
            log.warning("the worker was gone before its final flush", extra={"reason": str(exc)})
        self.close()

    def close(self) -> None:
        """Make sure the worker process is gone (idempotent)."""
        if self._process is None:
            return
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        assert self._conn is not None
        self._conn.close()
        self._process = None

    def _send(self, message: ToWorker) -> None:
        assert self._conn is not None
        try:
            self._conn.send(message)
        except OSError as exc:
            raise WorkerGoneError(self._death()) from exc

    def _apply(self, message: ToReceiver) -> None:
        if isinstance(message, Committed):
            with self._lock:
                deliveries = [d for seq in message.seqs if (d := self._inflight.pop(seq, None)) is not None]
                self._inflight_bytes -= sum(len(d.payload) for d in deliveries)
                self._room.notify_all()
            self.recorder.committed(deliveries, message.summary)
        elif isinstance(message, DatabaseFailed):
            self.recorder.database_failed(message.error)
        elif isinstance(message, LeaseLost):
            # A report about an earlier term (discarded already) must not end the current one.
            if self._token is not None and message.token == self._token:
                raise LeaseLostError(message.reason)
        elif isinstance(message, Stopped):
            self._stopped = True

    def _death(self) -> str:
        assert self._process is not None
        try:
            code = self._process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return f"the pipe to the worker process (pid {self._process.pid}) broke"
        return f"the worker process (pid {self._process.pid}) exited with code {code}"
