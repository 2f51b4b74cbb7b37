"""Survivors drain dead members' sessions, because Mosquitto never redistributes their share.

A member whose heartbeat is stale is claimed by one survivor, which connects with the dead
member's client id and processes its queue through the normal pipeline (ack after commit).
When the queue stays empty, the survivor unsubscribes the session from the group and ends it,
so the broker stops queueing for the dead member. If the member comes back, its own connect
takes the session over and the survivor lets go. Against brokers that redispatch (EMQX) the
dead session is simply empty. It must never touch a live member's session.

A member that cannot heartbeat fences itself (`fenced`): after half the takeover time without a
heartbeat it lets go of what it drains and the service stops consuming, so a survivor that claims it
finds its session free; had it kept consuming, the two would take the session from each other every
few seconds. It consumes again once a heartbeat succeeds (survivors then let go).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import psycopg

from ingest_stream.broker import BrokerAddress
from ingest_stream.coordination.members import Member, MemberRegistry
from ingest_stream.logs import first_line
from ingest_stream.receiver.delivery import DeliverySink
from ingest_stream.receiver.metrics import IngestMetrics
from ingest_stream.receiver.mqtt_session import MqttSession, SessionOptions

log = logging.getLogger("ingest_stream.takeover")


@dataclass
class Drain:
    member: Member
    session: MqttSession
    started: float
    unsubscribed: bool = False


class TakeoverCoordinator:
    """Heartbeats for this instance and drains stale members, on its own thread."""

    def __init__(self, registry: MemberRegistry, address: BrokerAddress, own_options: SessionOptions,
                 sink: DeliverySink, metrics: IngestMetrics,
                 heartbeat_s: float, quiet_s: float = 2.0) -> None:
        self.registry = registry
        self.address = address
        self.own_options = own_options
        self.sink = sink
        self.metrics = metrics
        self.heartbeat_s = heartbeat_s
        self.quiet_s = quiet_s
        self.drains: dict[str, Drain] = {}
        # Since when our own heartbeats succeed without a gap (monotonic); None after a failure.
        self._beating_since: float | None = None
        # The last heartbeat that succeeded (monotonic; registering counts): half the takeover time
        # without one and this member fences itself, well before a survivor may claim its session.
        self._last_beat = time.monotonic()
        self.fence_after_s = registry.stale_after_s / 2
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="takeover", daemon=True)

    def start(self) -> None:
        self.registry.register()
        self._last_beat = time.monotonic()
        self._thread.start()

    def fenced(self) -> bool:
        """True while this member must not consume: its heartbeat has failed for `fence_after_s`."""
        return time.monotonic() - self._last_beat > self.fence_after_s

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for drain in list(self.drains.values()):
            self._let_go(drain)
        try:
            self.registry.mark_stopped()
        except psycopg.Error as exc:
            log.warning("could not mark this member stopped", extra={"error": str(exc)})
        self.registry.close()

    def pending(self) -> int:
        return sum(d.session.ledger.pending for d in self.drains.values())

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.tick()
            except psycopg.Error as exc:
                log.warning("coordination database call failed", extra={"error": first_line(exc)})

    def tick(self) -> None:
        try:
            self.registry.heartbeat()
        except psycopg.Error:
            self._beating_since = None
            if self.fenced():
                for drain in list(self.drains.values()):  # its claim cannot be renewed: another survivor's soon
                    self._let_go(drain)
            raise
        now = self._last_beat = time.monotonic()
        if self._beating_since is None:
            self._beating_since = now
        for drain in list(self.drains.values()):
            self._tend(drain)
        if now - self._beating_since < self.registry.stale_after_s:
            # Just started, or the database just came back: every member's heartbeat looks stale
            # until each had the chance to beat again, and a live member's session is not ours to take.
            return
        for member in self.registry.claim_stale():
            if member.instance_id not in self.drains:
                self._begin(member)

    def _begin(self, member: Member) -> None:
        options = SessionOptions(
            client_id=member.client_id, subscriptions=(), qos=self.own_options.qos,
            receive_maximum=self.own_options.receive_maximum, session_expiry_s=self.own_options.session_expiry_s,
            protocol=self.own_options.protocol, persistent=True, reconnect=False)
        session = MqttSession(self.address, options, self.sink, self.metrics, label="drain")
        session.start()
        self.drains[member.instance_id] = Drain(member, session, time.monotonic())
        self.metrics.takeovers.inc()
        log.warning("draining the session of a silent member",
                    extra={"member": member.instance_id, "client_id": member.client_id})

    def _tend(self, drain: Drain) -> None:
        session = drain.session
        if session.taken_over or not self.registry.renew_claim(drain.member):
            log.info("member is back; letting go of its session", extra={"member": drain.member.instance_id})
            self._let_go(drain)
            return
        if not session.connected:
            if time.monotonic() - drain.started > 30:
                log.warning("could not connect to a silent member's session; will retry",
                            extra={"member": drain.member.instance_id})
                self._let_go(drain)
            return
        # pending counts what this session delivered and the pipeline has not committed yet.
        idle = time.monotonic() - session.last_message_at > self.quiet_s and session.ledger.pending == 0
        if not idle:
            return
        if not drain.unsubscribed:
            # No new messages for the dead member from now on; what is queued still arrives.
            drain.unsubscribed = session.unsubscribe(self.own_options.subscriptions)
            session.last_message_at = time.monotonic()
            return
        if self.registry.retire(drain.member):
            session.stop(end_session=True)
            self.drains.pop(drain.member.instance_id, None)
            log.warning("silent member retired: its session is drained and ended",
                        extra={"member": drain.member.instance_id})

    def _let_go(self, drain: Drain) -> None:
        drain.session.stop(end_session=False)
        self.drains.pop(drain.member.instance_id, None)
        try:
            self.registry.release(drain.member)
        except psycopg.Error as exc:
            log.warning("could not release a drain claim", extra={"error": first_line(exc)})
