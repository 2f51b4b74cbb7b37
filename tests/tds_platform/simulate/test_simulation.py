from __future__ import annotations

import orjson

from tds_platform.simulate.faults import FaultRates, preset
from tds_platform.simulate.fleet import FleetShape, build_fleet
from tds_platform.simulate.payloads import iso
from tds_platform.simulate.simulation import Simulation, fleet_ticks

T0 = 1_795_860_000  # 2026-11-28T10:00:00Z
FLEET = build_fleet(FleetShape(tenants=2, sites=1, equipment=2), seed=4)


def run(sim: Simulation, start: int, end: int) -> dict[tuple[int, str, str], list[bytes]]:
    """What `produce` returned per (tick, tenant, equipment)."""
    ticks = fleet_ticks(FLEET, start, end)
    return {(t, d.tenant, d.equipment): [m.payload for m in sim.produce(d, t)] for t, d in ticks}


def test_ticks_are_in_time_order_on_each_device_phase() -> None:
    ticks = list(fleet_ticks(FLEET, T0, T0 + 60))
    assert [t for t, _ in ticks] == sorted(t for t, _ in ticks)
    assert len(ticks) == 6 * len(FLEET)
    for tick, device in ticks:
        assert (tick - device.phase_s) % device.interval_s == 0
        assert T0 <= tick < T0 + 60


def test_same_seed_same_bytes_whenever_the_run_started() -> None:
    faults = preset("demo")
    early = run(Simulation(FLEET, 4, faults, 86400, T0 - 3600), T0 - 3600, T0 + 600)
    late = run(Simulation(FLEET, 4, faults, 86400, T0), T0, T0 + 600)
    assert late == {key: value for key, value in early.items() if key[0] >= T0}
    other_seed = run(Simulation(FLEET, 5, faults, 86400, T0), T0, T0 + 600)
    assert other_seed != late


def test_gaps_silence_publishing_but_not_the_buffer() -> None:
    sim = Simulation(FLEET, 4, FaultRates(gap=1.0, gap_min_s=600, gap_max_s=600), 86400, T0)
    produced = run(sim, T0, T0 + 7200)
    silent = [key for key, messages in produced.items() if not messages]
    assert silent
    assert sim.stats["messages_silenced_by_gap"] == len(silent)
    tick, tenant, equipment = silent[0]
    held = sim.buffers[(tenant, equipment)].between(tick, tick + 1)
    assert held
    assert sim.stats["readings"] == sum(len(b) for b in sim.buffers.values())


def test_duplicates_repeat_the_same_bytes() -> None:
    sim = Simulation(FLEET, 4, FaultRates(duplicate=1.0), 86400, T0)
    for messages in run(sim, T0, T0 + 60).values():
        assert len(messages) == 2
        assert messages[0] == messages[1]


def test_late_messages_are_released_after_newer_ones() -> None:
    sim = Simulation(FLEET[:1], 4, FaultRates(late=0.3, late_max_s=60), 86400, T0)
    device = FLEET[0]
    order = []
    for tick in range(T0 + device.phase_s, T0 + 3600, device.interval_s):
        order += [orjson.loads(m.payload)["ts"] for m in sim.released(tick) + sim.produce(device, tick)]
    order += [orjson.loads(m.payload)["ts"] for m in sim.released(float("inf"))]
    assert len(order) == 360
    assert sorted(order) != order
    assert sorted(order) == sorted(set(order))


def test_skewed_clock_shifts_payload_and_buffer_timestamps() -> None:
    sim = Simulation(FLEET[:1], 4, FaultRates(skew=1.0, skew_max_s=100), 86400, T0)
    device, tick = FLEET[0], T0 + FLEET[0].phase_s
    offset = sim.schedule.clock_offset_s(device)
    assert offset != 0
    stamp = orjson.loads(sim.produce(device, tick)[0].payload)["ts"]
    assert stamp == iso(tick + offset)
    assert sim.buffers[device.key].between(tick + offset, tick + offset + 1)


def test_value_faults_reach_payload_and_buffer() -> None:
    sim = Simulation(FLEET[:1], 4, FaultRates(out_of_range=1.0, bad_quality=1.0), 86400, T0)
    device, tick = FLEET[0], T0 + FLEET[0].phase_s
    points = orjson.loads(sim.produce(device, tick)[0].payload)["points"]
    assert all(p["q"] in ("bad", "uncertain") for p in points)
    floats = [p for p in points if p["t"] == "float"]
    assert all(not device.kind.metric(p["name"]).valid_min <= p["v"] <= device.kind.metric(p["name"]).valid_max
               for p in floats)
    assert [p.quality for p in sim.buffers[device.key].between(tick, tick + 1)] == [p["q"] for p in points]


def test_malformed_messages_do_not_parse_as_payload_v1() -> None:
    sim = Simulation(FLEET, 4, FaultRates(malformed=1.0), 86400, T0)
    for messages in run(sim, T0, T0 + 300).values():
        try:
            body = orjson.loads(messages[0])
        except orjson.JSONDecodeError:
            continue
        assert any("name" not in p for p in body["points"])
    assert sum(v for k, v in sim.stats.items() if k.startswith("malformed_")) == 30 * len(FLEET)


def test_commands_reach_the_addressed_device_only() -> None:
    sim = Simulation(FLEET, 4, FaultRates(), 86400, T0)
    run(sim, T0, T0 + 600)
    device = FLEET[1]
    cmd = orjson.dumps({"schema": "v1", "cmd_id": "x", "cmd": "resend",
                        "args": {"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:05:00Z"}})
    out = sim.command(device.topic("cmd"), cmd, T0 + 600)
    assert {m.topic for m in out} == {device.topic("ack"), device.topic("telem")}
    assert orjson.loads(out[-1].payload)["status"] == "done"
    assert sim.command("tds/acme/site-9/nope/cmd", cmd, T0 + 600) == []
    assert sim.command(device.topic("telem"), cmd, T0 + 600) == []
