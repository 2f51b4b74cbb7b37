"""The worker process's entry: takes Start and then messages off the pipe, runs the pipeline, reports each commit.

It never talks to the broker and can never acknowledge: the receiver acknowledges after it reads the
Committed report. `python -m ingest_stream.worker.process FD`, started by receiver.link.WorkerLink.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from ingest_stream.coordination.lease import Lease, LeaseLostError
from ingest_stream.handoff import Fence, LeaseLost, Ready, Received, Start, Stopped, ToWorker
from ingest_stream.logs import configure_logging
from ingest_stream.runtime import tune_garbage_collector
from ingest_stream.settings import IngestSettings
from ingest_stream.store import DryRunStore, Store, TelemetryStore
from ingest_stream.store.quotas import RegistryQuota
from ingest_stream.store.registry import SeriesRegistry
from ingest_stream.worker.pipeline import Pipeline
from ingest_stream.worker.reports import PipeSink

log = logging.getLogger("ingest_stream.worker")


def _receive(conn: Connection, pipeline: Pipeline, lease: Lease | None, stop: threading.Event) -> None:
    """Keeps the pipe drained, so the receiver's sends never wait on a batch being written."""
    try:
        while True:
            message: ToWorker = conn.recv()
            if isinstance(message, list):
                for item in message:
                    pipeline.submit(Received._make(item))
            elif isinstance(message, Fence):
                if lease is not None:
                    lease.follow(message.token)
            else:
                break
    except (EOFError, OSError):
        log.warning("the receiver process is gone; stopping")
    stop.set()


def _stores(settings: IngestSettings, lease: Lease | None) -> list[Store]:
    """One store per write connection, sharing one registry cache (and its quotas)."""
    if settings.dry_run:
        return [DryRunStore() for _ in range(settings.write_connections)]
    registry = SeriesRegistry(RegistryQuota(settings.max_new_equipment_per_hour, settings.max_new_series_per_hour))
    return [TelemetryStore(settings.database_url, settings.instance_id, fence=lease.fence if lease else None,
                           idle_in_transaction_timeout_s=settings.lease_ttl_s if lease else None, registry=registry,
                           stale_after_hours=settings.stale_after_hours)
            for _ in range(settings.write_connections)]


def run_worker(conn: Connection) -> None:
    """Start comes first; then messages until Stop."""
    start: Start = conn.recv()
    settings = start.settings
    configure_logging(settings.instance_id, settings.log_level)
    # The receiver decides when we stop (a terminal's Ctrl-C or a group SIGTERM reaches us too): it
    # sends Stop after the last message, so nothing it received is left unflushed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.info("worker started", extra={"pid": os.getpid(), "code": __file__})
    lease = (Lease(settings.database_url, start.lease_name, settings.instance_id, settings.lease_ttl_s)
             if start.lease_name else None)
    stores = _stores(settings, lease)
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
        log.warning("the receiver process is gone; exiting")
    finally:
        for store in stores:
            store.close()


if __name__ == "__main__":
    # FD is the receiver's end of a socket pair (see receiver.link.WorkerLink).
    run_worker(Connection(int(sys.argv[1])))
