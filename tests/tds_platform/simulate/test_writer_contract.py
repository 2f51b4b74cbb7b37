"""What the stream writer's own parser makes of simulated traffic: faults land where they are meant to."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson

from ingest_stream.parsing import DEFAULT_TOPIC_TEMPLATE, MessageParser, parse_templates
from ingest_stream.records import DeadLetterReason, Quality
from tds_platform.simulate.fleet import FleetShape, build_fleet
from tds_platform.simulate.runner import MemoryTransport, run
from tds_platform.simulate.settings import SimulatorSettings
from tds_platform.simulate.simulation import Simulation, fleet_ticks

PARSER = MessageParser(parse_templates(DEFAULT_TOPIC_TEMPLATE))
NOW = 1_795_860_000  # 2026-11-28T10:00:00Z
RECEIVED = datetime.fromtimestamp(NOW, UTC)


def test_clean_traffic_lands_every_reading_and_faults_become_the_right_dead_letters() -> None:
    capture = MemoryTransport()
    stats = run(SimulatorSettings(history="2h", duration=0, faults="demo", malformed_rate=0.05), capture, NOW)
    reasons: Counter[str] = Counter()
    readings = []
    for message in capture.sent:
        parsed = PARSER.parse(message.topic, message.payload, RECEIVED)
        if parsed.dead_letter:
            reasons[parsed.dead_letter.reason] += 1
        readings += parsed.readings
    malformed = {name: stats[f"malformed_{name}"] for name in ("invalid_json", "bad_schema", "garbage")}
    assert reasons[DeadLetterReason.INVALID_JSON] >= malformed["invalid_json"] > 0
    assert reasons[DeadLetterReason.SCHEMA_VIOLATION] >= malformed["bad_schema"] > 0
    assert reasons[DeadLetterReason.INVALID_UTF8] >= malformed["garbage"] > 0
    assert set(reasons) == {DeadLetterReason.INVALID_JSON, DeadLetterReason.SCHEMA_VIOLATION,
                            DeadLetterReason.INVALID_UTF8}
    assert {r.quality for r in readings} == set(Quality)
    assert {(r.tenant, r.site) for r in readings} == {(t, s) for t in ("acme", "globex") for s in ("site-1", "site-2")}
    running = [r for r in readings if r.metric == "running"]
    assert {r.value for r in running} <= {0.0, 1.0}


def test_resend_answers_land_as_readings_and_command_acks() -> None:
    fleet = build_fleet(FleetShape(tenants=1, sites=1, equipment=1), seed=1)
    simulation = Simulation(fleet, 1, SimulatorSettings().fault_rates(), 86400, NOW - 3600)
    for tick, device in fleet_ticks(fleet, NOW - 3600, NOW):
        simulation.produce(device, tick)
    command = {"schema": "v1", "cmd_id": "gap-backfill:42", "cmd": "resend",
               "args": {"from": "2026-11-28T09:30:00Z", "to": "2026-11-28T09:40:00Z"}}
    parsed = [PARSER.parse(m.topic, m.payload, RECEIVED)
              for m in simulation.command(fleet[0].topic("cmd"), orjson.dumps(command), NOW)]
    assert all(p.dead_letter is None for p in parsed)
    assert [a.status for p in parsed for a in p.acks] == ["accepted", "done"]
    assert {a.cmd_id for p in parsed for a in p.acks} == {"gap-backfill:42"}
    stamps = sorted({r.ts for p in parsed for r in p.readings})
    assert len(stamps) == 60
    assert stamps[0] >= datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert stamps[-1] < datetime(2026, 11, 28, 9, 40, tzinfo=UTC)
