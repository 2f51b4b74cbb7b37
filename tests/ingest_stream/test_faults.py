"""Fault injection against real processes: writers killed, paused and stopped, PostgreSQL and the broker restarted.

"Exact" everywhere means: every publish the broker acknowledged is a row, no row is doubled, and
nothing landed that was never sent (rig.assert_exactly_once). Servers are always restored.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import psutil
import pytest

from tests.ingest_stream.conftest import BASE_TS, IngestRig, Publisher, PublishRun, WriterProcess, wait_until

pytestmark = pytest.mark.slow

TTL_S = 3.0  # TDS_LEASE_TTL_S of the rig's writers


def _assert_all_landed(rig: IngestRig, pub: Publisher, run: PublishRun, timeout_s: float = 60) -> None:
    sent = run.join()
    acked = pub.wait_acked(list(sent))
    assert len(acked) == len(sent), f"the broker acknowledged only {len(acked)} of {len(sent)} publishes"
    rig.wait_for_rows(len(sent), timeout_s=timeout_s)
    rig.assert_exactly_once(sent, acked)
    assert rig.reading_count() == len(sent)
    assert rig.dead_letters() == []


def _active(writer: WriterProcess) -> bool:
    code, body = writer.health()
    return code == 200 and not body["standby"] and body["mqtt"]["connected"]


def _standby(writer: WriterProcess) -> bool:
    code, body = writer.health()
    return code == 200 and body["standby"] and not body["mqtt"]["connected"]


def _two_members_under_load(rig: IngestRig) -> tuple[WriterProcess, WriterProcess, Publisher, PublishRun]:
    """Survivor and victim in one group, publishing under way, and the victim has landed something."""
    survivor, victim = rig.writer("a").start(), rig.writer("b").start()
    survivor.wait_ready()
    victim.wait_ready()
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 3000, per_second=600)
    run.wait_published(600)
    wait_until(lambda: victim.metric("tds_ingest_points_total") > 0, 10, "the victim has landed some readings")
    return survivor, victim, pub, run


@pytest.mark.parametrize("comes_back", ["at-once", "while-being-drained"])
def test_group_member_killed_mid_stream_and_restarted_loses_nothing(rig: IngestRig, comes_back: str) -> None:
    survivor, victim, pub, run = _two_members_under_load(rig)
    victim.kill(signal.SIGKILL)
    victim.wait()
    if comes_back == "while-being-drained":
        wait_until(lambda: survivor.metric("tds_ingest_mqtt_connected", session="drain") == 1, 15,
                   "the survivor is draining the dead member's session")
    else:
        time.sleep(0.3)
    victim.start().wait_ready()
    _assert_all_landed(rig, pub, run)
    wait_until(lambda: rig.member_states() == {f"{rig.tenant}-a": "running", f"{rig.tenant}-b": "running"}, 10,
               "both members are running again")
    wait_until(lambda: survivor.metric("tds_ingest_mqtt_connected", session="drain") == 0, 15,
               "the survivor let go of the returned member's session")
    # Both share the load again, and nothing is stranded in a session nobody reads.
    more = rig.publish_in_background(pub, 400, per_second=2000, start=BASE_TS + timedelta(hours=1))
    sent = more.join()
    acked = pub.wait_acked(list(sent))
    assert len(acked) == 400
    assert rig.wait_for_rows(3400, timeout_s=30) == 3400
    rig.assert_exactly_once({**run.sent, **sent}, acked | set(run.sent))


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "scaled-down"])
def test_group_member_gone_for_good_is_drained_by_the_survivor_and_retired(rig: IngestRig, how: int) -> None:
    survivor, victim, pub, run = _two_members_under_load(rig)
    victim.kill(how)  # a clean stop keeps the session too (the member may come back), so both strand messages
    victim.wait()
    # Mosquitto keeps queueing the dead member's share; only the survivor's takeover can land it.
    _assert_all_landed(rig, pub, run)
    assert survivor.metric("tds_ingest_takeovers_total") == 1
    dead = f"{rig.tenant}-b"
    wait_until(lambda: rig.member_states().get(dead) == "retired", 20, "the dead member is retired")
    assert rig.query("SELECT drained_by, retired_at IS NOT NULL FROM tds.ingest_members WHERE instance_id = %s",
                     dead) == [(None, True)]
    wait_until(lambda: survivor.metric("tds_ingest_mqtt_connected", session="drain") == 0, 10,
               "the drained session is ended")
    # The retired session is gone from the group: everything published now reaches the survivor.
    more = rig.publish_in_background(pub, 300, per_second=2000, start=BASE_TS + timedelta(hours=1))
    sent = more.join()
    acked = pub.wait_acked(list(sent))
    assert rig.wait_for_rows(3300, timeout_s=20) == 3300
    rig.assert_exactly_once({**run.sent, **sent}, acked | set(run.sent))
    assert survivor.metric("tds_ingest_takeovers_total") == 1
    assert survivor.alive and not victim.alive


def test_lone_writer_killed_under_load_then_restarted_loses_nothing(rig: IngestRig) -> None:
    writer = rig.writer("a", group=None).start().wait_ready()
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 3000, per_second=1000)
    run.wait_published(1000)
    wait_until(lambda: writer.metric("tds_ingest_points_total") > 0, 10, "the writer has landed some readings")
    writer.kill(signal.SIGKILL)
    writer.wait()
    run.wait_published(2000)
    writer.start().wait_ready()
    _assert_all_landed(rig, pub, run)


@contextlib.contextmanager
def _database_down(rig: IngestRig, writers: list[WriterProcess]) -> Iterator[None]:
    """PostgreSQL stopped until the block ends (restarted even if it fails); every writer reports it."""
    rig.stack.postgres.stop()
    try:
        for writer in writers:
            wait_until(lambda w=writer: w.health("/health/database")[0] == 503, 15, "the writer reports the outage")
        yield
        assert all(writer.alive for writer in writers)
    finally:
        rig.stack.postgres.start()


def test_postgres_stopped_and_started_under_load(rig: IngestRig) -> None:
    writers = [rig.writer(name).start() for name in ("a", "b")]
    for writer in writers:
        writer.wait_ready()
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 3000, per_second=500)
    run.wait_published(800)
    with _database_down(rig, writers):
        assert all(writer.health("/health")[0] == 503 for writer in writers)
        time.sleep(TTL_S + 1)  # longer than takeover_after_s: heartbeats go stale on both sides
    _assert_all_landed(rig, pub, run, timeout_s=90)
    for writer in writers:
        wait_until(lambda w=writer: w.health("/health/database") == (200, {"ok": True, "error": None}), 15,
                   "the writer reports the database back")
        assert writer.alive
        assert writer.metric("tds_ingest_database_retries_total") > 0
    # A database outage is not a member's death: nobody may drain a live member's session.
    assert [writer.metric("tds_ingest_takeovers_total") for writer in writers] == [0, 0]


def test_postgres_stopped_and_started_under_load_in_lease_mode(rig: IngestRig) -> None:
    leader = rig.writer("a", group="L", TDS_COORDINATION="lease").start().wait_ready()
    standby = rig.writer("b", group="L", TDS_COORDINATION="lease").start().wait_healthy()
    writers = [leader, standby]
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 2000, per_second=500)
    run.wait_published(500)
    with _database_down(rig, writers):
        pass
    _assert_all_landed(rig, pub, run, timeout_s=90)
    wait_until(lambda: sum(_active(w) for w in writers) == 1 and sum(_standby(w) for w in writers) == 1, 15,
               "one instance leads again and the other stands by")
    for writer in writers:
        wait_until(lambda w=writer: w.health("/health")[0] == 200, 15, "both instances are healthy again")
        assert writer.health("/health/database") == (200, {"ok": True, "error": None})


def test_broker_restarted_with_a_backlog_loses_nothing(rig: IngestRig) -> None:
    # A small in-flight window keeps most of the backlog in the broker's persisted queue.
    writer = rig.writer("a", group=None, TDS_BATCH_SIZE="100", TDS_RECEIVE_MAXIMUM="200").start().wait_ready()
    pub = rig.publisher()
    first = rig.publish_in_background(pub, 500, per_second=5000)
    sent = first.join()
    assert rig.wait_for_rows(500) == 500
    writer.kill(signal.SIGSTOP)  # a backlog builds up in the writer's session
    backlog = rig.publish_in_background(pub, 1500, per_second=5000, start=BASE_TS + timedelta(hours=1))
    sent |= backlog.join()
    acked = pub.wait_acked(list(sent))
    assert len(acked) == 2000
    pub.close()
    broker = rig.stack.broker
    broker.stop()
    try:
        writer.kill(signal.SIGCONT)
        wait_until(lambda: writer.health("/health/mqtt")[0] == 503, 15, "the writer reports the broker gone")
        assert writer.health("/health")[0] == 503
        assert writer.alive
    finally:
        broker.start()
    wait_until(lambda: writer.health("/health/mqtt")[0] == 200, 30, "the writer reconnects by itself")
    after = rig.publisher("dev2")
    last = rig.publish_in_background(after, 500, per_second=5000, start=BASE_TS + timedelta(hours=2))
    late = last.join()
    late_acked = after.wait_acked(list(late))
    assert len(late_acked) == 500
    assert rig.wait_for_rows(2500, timeout_s=60) == 2500
    # Two publishers number their packets independently: key every publish by (publisher, mid).
    every = {("dev", mid): ts for mid, ts in sent.items()} | {("dev2", mid): ts for mid, ts in late.items()}
    rig.assert_exactly_once(every, {("dev", mid) for mid in acked} | {("dev2", mid) for mid in late_acked})
    assert writer.metric("tds_ingest_reconnects_total") >= 1


def test_lease_standby_takes_over_within_the_ttl_when_the_leader_is_killed(rig: IngestRig) -> None:
    leader = rig.writer("a", group="L", TDS_COORDINATION="lease").start().wait_ready()
    standby = rig.writer("b", group="L", TDS_COORDINATION="lease").start().wait_healthy()
    assert _active(leader)
    wait_until(lambda: _standby(standby), 10, "the second instance stands by")
    assert standby.health("/health/mqtt") == (200, {"connected": False, "standby": True})
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 2000, per_second=500)
    run.wait_published(500)
    leader.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: _active(standby), TTL_S + 5, "the standby becomes the active writer", interval_s=0.05)
    took_s = time.monotonic() - killed_at
    assert took_s < TTL_S + 1.5, f"failover took {took_s:.1f}s with a {TTL_S}s lease"
    _assert_all_landed(rig, pub, run)


def test_lease_old_leader_paused_and_resumed_writes_nothing(rig: IngestRig) -> None:
    # The old leader holds a batch open for 4 s, so it is frozen with received, uncommitted messages.
    old = rig.writer("a", group="L", TDS_COORDINATION="lease", TDS_BATCH_MAX_AGE_MS="4000").start().wait_ready()
    new = rig.writer("b", group="L", TDS_COORDINATION="lease").start().wait_healthy()
    wait_until(lambda: _standby(new), 10, "the second instance stands by")
    pub = rig.publisher()
    first = rig.publish_readings(pub, 100)
    assert len(pub.wait_acked(list(first))) == 100
    wait_until(lambda: old.health()[1]["queue_depth"] == 100, 3, "the leader holds the batch uncommitted",
               interval_s=0.02)
    old.kill(signal.SIGSTOP)
    try:
        wait_until(lambda: _active(new), TTL_S + 5, "the standby takes over from the paused leader")
        assert rig.wait_for_rows(100, timeout_s=15) == 100, "the paused leader's unacknowledged messages come again"
        second = rig.publish_readings(pub, 100, start=BASE_TS + timedelta(hours=1))
        assert len(pub.wait_acked(list(second))) == 100
        assert rig.wait_for_rows(200, timeout_s=15) == 200
    finally:
        old.kill(signal.SIGCONT)
    wait_until(lambda: _standby(old), 15, "the resumed old leader notices it lost the lease")
    assert old.metric("tds_ingest_points_total") == 0, "a fenced leader must never commit"
    assert old.metric("tds_ingest_messages_total") == 0
    wait_until(lambda: _active(new), 15, "the new leader keeps (or wins back) the session")
    third = rig.publish_readings(pub, 100, start=BASE_TS + timedelta(hours=2))
    assert len(pub.wait_acked(list(third))) == 100
    assert rig.wait_for_rows(300, timeout_s=20) == 300
    every = {**first, **second, **third}
    rig.assert_exactly_once(every, set(every))
    assert _standby(old) and old.alive
    assert "lease lost" in old.log_path.read_text()


def test_sigterm_flushes_commits_acks_and_exits_zero_quickly(rig: IngestRig) -> None:
    # A long batch age: at SIGTERM the writer holds everything received and nothing committed.
    writer = rig.writer("a", group=None, TDS_BATCH_MAX_AGE_MS="10000").start().wait_ready()
    pub = rig.publisher()
    sent = rig.publish_readings(pub, 300)
    acked = pub.wait_acked(list(sent))
    assert len(acked) == 300
    wait_until(lambda: writer.health()[1]["queue_depth"] == 300, 5, "the writer holds 300 uncommitted messages")
    assert rig.reading_count() == 0
    started = time.monotonic()
    writer.kill(signal.SIGTERM)
    assert writer.wait(timeout_s=10) == 0
    assert time.monotonic() - started < 5
    assert rig.reading_count() == 300
    rig.assert_exactly_once(sent, acked)
    # Acknowledged before disconnecting: the restarted session gets nothing back.
    writer.env["TDS_BATCH_MAX_AGE_MS"] = "50"
    writer.start().wait_ready()
    time.sleep(1.5)
    assert writer.metric("tds_ingest_messages_total") == 0, "messages committed before SIGTERM came again"
    more = rig.publish_readings(pub, 10, start=BASE_TS + timedelta(hours=1))
    assert len(pub.wait_acked(list(more))) == 10
    assert rig.wait_for_rows(310, timeout_s=10) == 310


def test_sigterm_while_the_database_is_down_exits_promptly_and_acknowledges_nothing(rig: IngestRig) -> None:
    writer = rig.writer("a", group=None).start().wait_ready()
    pub = rig.publisher()
    postgres = rig.stack.postgres
    postgres.stop()
    try:
        sent = rig.publish_readings(pub, 50)
        acked = pub.wait_acked(list(sent))
        assert len(acked) == 50
        wait_until(lambda: writer.health("/health/database")[0] == 503, 10, "the writer reports the outage")
        # Signal right as the writer starts a long retry pause: it must not sleep it out.
        wait_until(lambda: '"retry_in_s":6.4' in writer.log_path.read_text(), 20, "the retry backoff is 6.4 s",
                   interval_s=0.02)
        started = time.monotonic()
        writer.kill(signal.SIGTERM)
        assert writer.wait(timeout_s=30) == 0
        took_s = time.monotonic() - started
        assert took_s < 4, f"SIGTERM took {took_s:.1f}s with the database down"
    finally:
        postgres.start()
    assert rig.reading_count() == 0
    # Nothing was acknowledged, so the broker hands all of it to the restarted writer.
    writer.start().wait_ready()
    assert rig.wait_for_rows(50, timeout_s=20) == 50
    rig.assert_exactly_once(sent, acked)


def _worker_of(writer: WriterProcess) -> psutil.Process:
    """The writer's worker process: its only child."""
    assert writer.proc is not None
    [worker] = psutil.Process(writer.proc.pid).children()
    assert "ingest_stream.worker.process" in worker.cmdline()
    return worker


def test_worker_killed_under_load_ends_the_writer_and_a_restart_loses_nothing(rig: IngestRig) -> None:
    writer = rig.writer("a", group=None).start().wait_ready()
    pub = rig.publisher()
    run = rig.publish_in_background(pub, 3000, per_second=1000)
    run.wait_published(1000)
    wait_until(lambda: writer.metric("tds_ingest_points_total") > 0, 10, "the writer has landed some readings")
    _worker_of(writer).kill()
    started = time.monotonic()
    assert writer.wait(timeout_s=10) == 1, "a writer without its worker must exit non-zero"
    assert time.monotonic() - started < 3
    assert "the worker process died" in writer.log_path.read_text()
    run.wait_published(2000)
    writer.start().wait_ready()
    _assert_all_landed(rig, pub, run)
