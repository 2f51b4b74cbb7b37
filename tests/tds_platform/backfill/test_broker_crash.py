"""The broker killed with SIGKILL under load, end to end: what its last save kept is delivered after the
restart, what it lost becomes a gap, and the gap backfill gets it back from the device's buffer.

The same steps as the platform takes: the quality run records the gaps (judge_hours), the gap sensor's
query finds them (requestable_gaps), a backfill sends the resend command (request_for_gaps, send) and
the answers sensor judges it (judged). Exact means every reading the device took is a row, once.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tds_platform.backfill import store
from tds_platform.backfill.run import request_for_gaps, send
from tds_platform.db.engine import engine_for
from tds_platform.quality.runner import judge_hours
from tds_platform.time_windows import HOUR
from tests.ingest_stream.conftest import wait_until
from tests.tds_platform.backfill.conftest import FAST, GAP_FACTOR, INTERVAL_S, BackfillRig, FakeDevice, iso, judged

pytestmark = pytest.mark.slow

# Mosquitto saves every autosave_interval + 1 s (whole-second timer): older messages survive a crash.
SAVED_AFTER_S = 3.0


def _register(rig: BackfillRig) -> None:
    with psycopg.connect(rig.url) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, site) VALUES (%s, %s, %s)",
                     (rig.tenant, rig.equipment, rig.site))
        conn.execute("INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s) "
                     "VALUES (%s, %s, 'temp', %s)", (rig.tenant, rig.equipment, INTERVAL_S))


def _publish(device: FakeDevice, readings: list[datetime]) -> None:
    """One QoS 1 message per reading, each acknowledged by the broker before this returns."""
    infos = [device.client.publish(device.topic("telem"), json.dumps(
        {"schema": "v1", "ts": iso(ts), "points": [{"name": "temp", "t": "float", "v": 20.0}]}), qos=1)
        for ts in readings]
    for info in infos:
        info.wait_for_publish(30)
    assert all(info.is_published() for info in infos)


def _settled(rig: BackfillRig, at_least: int) -> list[datetime]:
    """What landed, once it is at least `at_least` readings and has not grown for 2 s."""
    wait_until(lambda: len(rig.landed()) >= at_least, 60, f"{at_least} readings landed")
    landed, stable_since = rig.landed(), time.monotonic()
    while time.monotonic() - stable_since < 2:
        time.sleep(0.2)
        now = rig.landed()
        if now != landed:
            landed, stable_since = now, time.monotonic()
    return landed


def test_readings_a_broker_crash_lost_are_backfilled_from_the_device(rig: BackfillRig) -> None:
    _register(rig)
    rig.start_writer()
    assert rig.writer is not None
    device = rig.device("done")
    every = rig.every
    _publish(device, every[:20])
    _settled(rig, 20)

    # The writer is down (a deploy, a crash): the broker queues for its session, then crashes itself.
    # (A writer merely stalled would still read what was already in its socket when the broker died.)
    rig.writer.stop()
    _publish(device, every[20:30])
    time.sleep(SAVED_AFTER_S)
    _publish(device, every[30:40])
    rig.stack.broker.stop(sig=signal.SIGKILL)
    rig.stack.broker.start()
    rig.writer.start().wait_ready(timeout_s=30)
    assert device.subscribed.wait(30)
    _publish(device, every[40:])
    landed = _settled(rig, 40)

    assert set(every[20:30]) <= set(landed), "acknowledged more than 2 s before the crash: in the broker's save"
    lost = sorted(set(every) - set(landed))
    engine = engine_for(rig.url)
    now = datetime.now(UTC)
    judge = rig.t0.replace(minute=0)
    judge_hours(engine, judge, judge + HOUR, now, GAP_FACTOR)
    with engine.connect() as conn:
        gaps = store.requestable_gaps(conn, now - timedelta(days=1), now, 10, [])
    if lost:
        assert [gap.id for gap in gaps], f"{len(lost)} readings lost in the crash and no gap recorded"
        sent = send(engine, rig.stack.platform_mqtt_url(), request_for_gaps(engine, [g.id for g in gaps], FAST, now))
        judged(rig.url, FAST, sent.cmd_id)
    final = rig.landed()
    assert final == every, f"{len(set(every) - set(final))} of {len(lost)} lost readings still missing"
    print(f"broker crash: {len(lost)} of 20 queued readings lost, {len(gaps)} gap(s), all 60 back after backfill")
