from __future__ import annotations

import threading
import time

import orjson

from tds_platform.simulate.runner import MemoryTransport, SimClock, run
from tds_platform.simulate.settings import SimulatorSettings

SMALL = {"tenants": 1, "sites": 1, "equipment": 2, "seed": 2}


def test_sim_clock_runs_faster_by_the_speed_factor() -> None:
    wall = [100.0]
    clock = SimClock(start=1_000.0, speed=60, monotonic=lambda: wall[0])
    assert clock.now() == 1_000.0
    wall[0] += 2
    assert clock.now() == 1_120.0
    assert clock.wall_seconds_until(1_180.0) == 1.0


def test_live_mode_publishes_as_simulated_time_passes() -> None:
    transport, now = MemoryTransport(), int(time.time())
    started = time.monotonic()
    stats = run(SimulatorSettings(**SMALL, duration="40s", speed=40), transport, now)
    elapsed = time.monotonic() - started
    assert 0.8 < elapsed < 3.0  # 40 simulated seconds at 40x
    stamps = [orjson.loads(m.payload)["ts"] for m in transport.sent]
    assert len(stamps) == stats["published"] == 2 * 4
    assert stamps == sorted(stamps)


def test_history_then_live_is_one_continuous_series() -> None:
    transport, now = MemoryTransport(), int(time.time())
    run(SimulatorSettings(**SMALL, history="1m", duration="20s", speed=40), transport, now)
    chiller = [orjson.loads(m.payload)["ts"] for m in transport.sent if "chiller" in m.topic]
    assert len(chiller) == 8 == len(set(chiller))  # 60 s of history + 20 s live at 10 s, no hole, no overlap


def test_stop_ends_a_live_run_promptly_and_commands_are_answered_while_waiting() -> None:
    transport, stop = MemoryTransport(), threading.Event()
    settings = SimulatorSettings(**SMALL, history="5m")
    worker = threading.Thread(target=run, args=(settings, transport, int(time.time())), kwargs={"stop": stop})
    worker.start()
    try:
        time.sleep(0.3)
        command = {"schema": "v1", "cmd_id": "c9", "cmd": "resend", "args": {"from": "2020-01-01T00:00:00Z",
                                                                           "to": "2020-01-01T01:00:00Z"}}
        transport.commands.put(("tds/acme/site-1/s1-chiller-01/cmd", orjson.dumps(command)))
        deadline = time.monotonic() + 2
        while not any(m.topic.endswith("/ack") and b'"partial"' in m.payload for m in transport.sent):
            assert time.monotonic() < deadline, "the command was not answered while the loop waited"
            time.sleep(0.05)
    finally:
        stopped_at = time.monotonic()
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < 1.0
