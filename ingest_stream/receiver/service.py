"""The stream writer's main process: wires sessions, coordination, the worker and health, and runs them.

It receives and acknowledges; its worker process parses and writes. SIGTERM/SIGINT flush, commit,
ack and disconnect, then exit 0 within a few seconds; a dead worker ends it with exit code 1. It connects
to the broker only once it has its client id, which needs the database (coordination.client_ids).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence

import psycopg

from ingest_stream.broker import BrokerAddress
from ingest_stream.coordination.client_ids import load_key, writer_client_id
from ingest_stream.coordination.lease import Lease, LeaseLostError
from ingest_stream.coordination.members import MemberRegistry
from ingest_stream.logs import first_line
from ingest_stream.parsing import TopicTemplate
from ingest_stream.receiver.commits import CommitRecorder
from ingest_stream.receiver.health import HealthServer, HealthState
from ingest_stream.receiver.link import WorkerGoneError, WorkerLink
from ingest_stream.receiver.metrics import IngestMetrics
from ingest_stream.receiver.mqtt_session import MqttSession, SessionOptions
from ingest_stream.receiver.takeover import TakeoverCoordinator
from ingest_stream.settings import Coordination, IngestSettings, redact_url
from ingest_stream.store import DryRunStore, Store, TelemetryStore

log = logging.getLogger("ingest_stream.service")


def subscription_filters(settings: IngestSettings, templates: Sequence[TopicTemplate]) -> tuple[str, ...]:
    shared = settings.effective_coordination is Coordination.SHARED and not settings.dry_run
    filters = dict.fromkeys(t.subscription_filter for t in templates)
    return tuple(f"$share/{settings.mqtt_group}/{f}" if shared else f for f in filters)


class IngestService:
    def __init__(self, settings: IngestSettings, metrics: IngestMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or IngestMetrics()
        self.stop_event = threading.Event()
        self.parser = settings.parser()
        templates = self.parser.templates
        self.address = BrokerAddress.from_url(settings.mqtt_url, settings.mqtt_ca_file)
        self.mode = "dry-run" if settings.dry_run else settings.effective_coordination.value
        self.subscriptions = subscription_filters(settings, templates)
        lease_name = None
        if settings.effective_coordination is Coordination.LEASE and not settings.dry_run:
            lease_name = f"ingest:{settings.mqtt_group or 'solo'}"
        self.lease = Lease(settings.database_url, lease_name, settings.instance_id,
                           settings.lease_ttl_s) if lease_name else None
        # Only for health probes: the worker writes, on a store of its own.
        self.store: Store = DryRunStore() if settings.dry_run else TelemetryStore(
            settings.database_url, settings.instance_id)
        self.health = HealthState(instance_id=settings.instance_id, mode=self.mode,
                                  stalled_after_s=settings.stalled_after_s)
        self.link = WorkerLink(settings, lease_name, CommitRecorder(self.metrics, self.health), self.metrics)
        # Built by `_prepare_sessions` once the client id is known.
        self.options: SessionOptions | None = None
        self.session: MqttSession | None = None
        self.takeover: TakeoverCoordinator | None = None
        self.health.mqtt_connected = lambda: self.session is not None and self.session.connected
        self.health.queue_depth = self.queue_depth
        self.health.oldest_uncommitted_at = self.link.oldest_uncommitted_at
        self.http: HealthServer | None = None

    def queue_depth(self) -> int:
        own = self.session.ledger.pending if self.session is not None else 0
        return own + (self.takeover.pending() if self.takeover else 0)

    def _client_id(self) -> str | None:
        """This instance's client id, waiting for the database to tell its key (None: stopped meanwhile)."""
        if self.settings.dry_run:
            return writer_client_id(self.settings, key="")
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                return writer_client_id(self.settings, load_key(self.settings.database_url))
            except psycopg.Error as exc:
                self.health.database_ok, self.health.database_error = False, first_line(exc)
                log.warning("waiting for the database to read this writer's client id",
                            extra={"error": first_line(exc), "retry_in_s": delay})
                self.stop_event.wait(delay)
                delay = min(delay * 2, 10.0)
        return None

    def _prepare_sessions(self, client_id: str) -> None:
        settings = self.settings
        self.options = SessionOptions(
            client_id=client_id,
            subscriptions=self.subscriptions,
            qos=settings.mqtt_qos,
            receive_maximum=settings.effective_receive_maximum,
            session_expiry_s=settings.session_expiry_s,
            protocol=settings.mqtt_protocol,
            # A dry run never joins the group and leaves no session behind: it takes nothing from production.
            persistent=not settings.dry_run,
        )
        self.session = MqttSession(self.address, self.options, self.link, self.metrics)
        if settings.effective_coordination is Coordination.SHARED and not settings.dry_run:
            registry = MemberRegistry(settings.database_url, settings.mqtt_group or "", settings.instance_id,
                                      client_id, stale_after_s=settings.takeover_after_s,
                                      claim_s=max(3 * settings.heartbeat_s, 5.0), health_url=settings.health_url)
            self.takeover = TakeoverCoordinator(registry, self.address, self.options, self.link,
                                                self.metrics, settings.heartbeat_s)

    def request_stop(self, *_args: object) -> None:
        self.stop_event.set()

    def start_http(self) -> None:
        """Port 0 binds an ephemeral port (tests read `self.http.port`)."""
        self.http = HealthServer(self.settings.http_host, self.settings.http_port, self.health, self.metrics,
                                 self.store.newest_reading_age_s, self.settings.recent_data_warning_s,
                                 self.settings.recent_data_critical_s, ping_database=self.store.ping)
        self.http.start()

    def run(self, install_signals: bool = True) -> int:
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        log.info("starting", extra={"mode": self.mode, "mqtt": redact_url(self.settings.mqtt_url),
                                    "database": redact_url(self.settings.database_url),
                                    "subscriptions": list(self.subscriptions)})
        self.start_http()
        try:
            client_id = self._client_id()
            code = 0
            if client_id is not None:
                self._prepare_sessions(client_id)
                code = self._run_with_worker()
        finally:
            self.link.close()
            self.store.close()
            if self.http is not None:
                self.http.stop()
        log.info("stopped", extra={"exit_code": code})
        return code

    def _run_with_worker(self) -> int:
        try:
            self.link.start()
        except WorkerGoneError as exc:
            log.error("the worker process did not start", extra={"reason": str(exc)})
            return 1
        try:
            if self.lease is not None:
                self._run_as_lease_candidate()
            else:
                self._run_member()
        except WorkerGoneError as exc:
            # What the worker held is uncommitted and stays unacknowledged: disconnect, and let the
            # supervisor restart us (the broker redelivers).
            log.error("the worker process died; exiting without acknowledging anything more",
                      extra={"reason": str(exc)})
            if self.takeover is not None:
                self.takeover.stop()
            if self.session is not None:
                self.session.stop()
            return 1
        return 0

    def _run_member(self) -> None:
        assert self.session is not None
        if self.takeover is not None:
            self.takeover.start()
        self.session.start()
        while not self.stop_event.is_set():
            self.link.step()
            if self.takeover is not None:
                self._fence_or_resume(self.takeover)
        self.link.finish()
        if self.takeover is not None:
            self.takeover.stop()
        if self.session is not None:
            self.session.stop()

    def _fence_or_resume(self, takeover: TakeoverCoordinator) -> None:
        """Stop consuming while this member cannot heartbeat (a survivor may drain its session soon; the
        broker keeps the session and redelivers what was not acknowledged), consume again once it can."""
        assert self.options is not None
        fenced = takeover.fenced()
        if fenced and self.session is not None:
            log.warning("heartbeat failing: this member stops consuming until it heartbeats again",
                        extra={"fence_after_s": takeover.fence_after_s})
            self.session.stop()
            self.session = None
            self.metrics.fences.inc()
        elif not fenced and self.session is None:
            log.warning("heartbeat back: this member consumes again")
            self.session = MqttSession(self.address, self.options, self.link, self.metrics)
            self.session.start()

    def _run_as_lease_candidate(self) -> None:
        """Standby until the lease is ours; lead until it is lost or we are stopped; repeat."""
        assert self.lease is not None and self.options is not None
        renew_every = self.settings.lease_ttl_s / 3
        while not self.stop_event.is_set():
            self.health.standby = True
            self.link.check_alive()
            if not self._try(self.lease.acquire):
                self.stop_event.wait(renew_every)
                continue
            self.health.standby = False
            log.warning("lease acquired: this instance is the active writer", extra={"token": self.lease.token})
            self.link.follow(self.lease.token)
            self.session = session = MqttSession(self.address, self.options, self.link, self.metrics)
            session.start()
            next_renewal = time.monotonic() + renew_every
            try:
                while not self.stop_event.is_set():
                    self.link.step()
                    if time.monotonic() >= next_renewal:
                        if not self._try(self.lease.renew):
                            raise LeaseLostError("lease renewal failed")
                        next_renewal = time.monotonic() + renew_every
                self.link.finish()
                session.stop()
                self._try(self.lease.release)
            except LeaseLostError as exc:
                dropped = self.link.discard()
                session.stop()
                log.warning("lease lost: standing by", extra={"reason": str(exc), "uncommitted_dropped": dropped})
        self.link.finish()
        self.lease.close()

    def _try(self, call: Callable[[], object]) -> bool:
        try:
            result = bool(call())
        except psycopg.Error as exc:
            self.health.database_ok, self.health.database_error = False, first_line(exc)
            return False
        if self.health.standby:
            # A standby writes nothing, so its lease calls are its only database health signal.
            self.health.database_ok, self.health.database_error = True, None
        return result
