"""The writer's worker process: parses, batches and writes what the parent received, and reports each commit.

It never talks to the broker and can never acknowledge: its deliveries are copies on a ledger that
has no connection; the parent acknowledges after it reads the Committed report.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from ingest_stream.commits import CommitSummary
from ingest_stream.coordination.lease import Lease
from ingest_stream.delivery import AckLedger, Delivery
from ingest_stream.handoff import Committed, DatabaseFailed, Fence, LeaseLost, Ready, Stopped, ToParent, ToWorker
from ingest_stream.logs import configure_logging
from ingest_stream.pipeline import LeaseLostError, Pipeline
from ingest_stream.runtime import tune_garbage_collector
from ingest_stream.settings import IngestSettings
from ingest_stream.store import DryRunStore, Store, TelemetryStore
from ingest_stream.store.quotas import RegistryQuota
from ingest_stream.store.registry import SeriesRegistry

log = logging.getLogger("ingest_stream.worker")

# Never connected: settling one of the worker's copies could not acknowledge anything.
_COPIES = AckLedger("worker copies")


class PipeSink:
    """The pipeline's reports, sent to the parent. Every batch-writer thread reports, and the main
    thread sends too: a pipe message must go out whole, so sends take turns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: ToParent) -> None:
        with self.lock:
            self.conn.send(message)

    def committed(self, deliveries: list[Delivery], summary: CommitSummary) -> None:
        self.send(Committed([d.mid for d in deliveries], summary))

    def database_failed(self, error: str) -> None:
        self.send(DatabaseFailed(error))


def _receive(conn: Connection, pipeline: Pipeline, lease: Lease | None, stop: threading.Event) -> None:
    """Keeps the pipe drained, so the parent's sends never wait on a batch being written."""
    try:
        while True:
            message: ToWorker = conn.recv()
            if isinstance(message, list):
                for seq, topic, payload, received_at in message:
                    pipeline.submit(Delivery(_COPIES, 0, seq, 0, topic, payload, received_at))
            elif isinstance(message, Fence):
                if lease is not None:
                    lease.follow(message.token)
            else:
                break
    except (EOFError, OSError):
        log.warning("the parent process is gone; stopping")
    stop.set()


def run_worker(conn: Connection) -> None:
    """The first message is (settings, lease name); then deliveries until Stop."""
    settings: IngestSettings
    lease_name: str | None
    settings, lease_name = conn.recv()
    configure_logging(settings.instance_id, settings.log_level)
    # The parent decides when we stop (a terminal's Ctrl-C or a group SIGTERM reaches us too): it
    # sends Stop after the last delivery, so nothing it received is left unflushed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.info("worker started", extra={"pid": os.getpid(), "code": __file__})
    lease = Lease(settings.database_url, lease_name, settings.instance_id, settings.lease_ttl_s) if lease_name else None
    registry = SeriesRegistry(RegistryQuota(settings.max_new_equipment_per_hour, settings.max_new_series_per_hour))
    stores: list[Store] = [DryRunStore() if settings.dry_run else TelemetryStore(
        settings.database_url, settings.instance_id, fence=lease.fence if lease else None,
        idle_in_transaction_timeout_s=settings.lease_ttl_s if lease else None, registry=registry)
        for _ in range(settings.write_connections)]
    sink = PipeSink(conn)
    pipeline = Pipeline(settings.parser().parse, stores, sink, settings.batch_size, settings.batch_max_age_ms / 1000)
    tune_garbage_collector()
    stop = threading.Event()
    sink.send(Ready())
    threading.Thread(target=_receive, args=(conn, pipeline, lease, stop), name="handoff-receive", daemon=True).start()
    try:
        while True:
            try:
                pipeline.run(stop)
                break
            except LeaseLostError as exc:
                dropped = pipeline.discard()
                sink.send(LeaseLost(lease.token if lease else None, str(exc)))
                log.warning("lease lost: dropped what was not committed", extra={"uncommitted_dropped": dropped})
        sink.send(Stopped())
    except (BrokenPipeError, EOFError):
        log.warning("the parent process is gone; exiting")
    finally:
        for store in stores:
            store.close()


if __name__ == "__main__":
    # `python -m ingest_stream.worker FD`: FD is the parent's end of a socket pair (see link.WorkerLink).
    run_worker(Connection(int(sys.argv[1])))
