"""The pure backfill rules: resend window, command message (as the simulator reads it), cmd id, outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest_stream.parsing import DEFAULT_TOPIC_TEMPLATE, MessageParser, parse_templates
from tds_platform.backfill.plan import GapJudgement, Outcome, Window, decide, new_cmd_id, resend_command, resend_window
from tds_platform.simulate.commands import resend_window as simulator_window
from tds_platform.simulate.fleet import FleetShape, build_fleet

T = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(("gap_end", "now", "expected"), [
    (T + 10 * MINUTE, T + 60 * MINUTE, Window(T - MINUTE, T + 11 * MINUTE)),  # closed: margin both sides
    (None, T + 60 * MINUTE, Window(T - MINUTE, T + 60 * MINUTE)),  # open: up to now
    (T + 10 * MINUTE, T + 10 * MINUTE + SECOND, Window(T - MINUTE, T + 10 * MINUTE + SECOND)),  # never past now
])
def test_resend_window(gap_end: datetime | None, now: datetime, expected: Window) -> None:
    assert resend_window(T, gap_end, now, MINUTE) == expected


def test_a_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="must start before it ends"):
        Window(T, T)
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(T.replace(tzinfo=None), T.replace(tzinfo=None) + MINUTE)


def test_the_command_is_what_the_simulator_understands() -> None:
    device = build_fleet(FleetShape(), seed=1)[0]
    metric = device.kind.metrics[0].name
    body = orjson.loads(resend_command("bf-1", Window(T, T + MINUTE), (metric,), T + 2 * MINUTE))

    assert (body["schema"], body["cmd_id"], body["cmd"], body["ts"]) == ("v1", "bf-1", "resend", "2026-11-22T10:02:00Z")
    assert simulator_window(device, body["args"]) == (T.timestamp(), (T + MINUTE).timestamp(), frozenset({metric}))


def test_cmd_ids_are_unique_and_acceptable_to_the_writer() -> None:
    ids = {new_cmd_id(T) for _ in range(50)}
    assert len(ids) == 50
    parser = MessageParser(parse_templates(DEFAULT_TOPIC_TEMPLATE))
    for cmd_id in list(ids)[:5]:
        ack = orjson.dumps({"schema": "v1", "cmd_id": cmd_id, "status": "done", "ts": "2026-11-22T10:00:00Z"})
        parsed = parser.parse("tds/acme/p1/ch-1/ack", ack, T)
        assert parsed.dead_letter is None and parsed.acks[0].cmd_id == cmd_id


@pytest.mark.parametrize(("judgement", "outcome"), [
    (GapJudgement(18, 10, 30), Outcome.FILLED),
    (GapJudgement(9, 100, 30), Outcome.PARTIALLY_FILLED),
    (GapJudgement(0, 190, 30), Outcome.UNFILLABLE),
    (GapJudgement(0, 20, 30), Outcome.FILLED),  # the silence was already short enough
    (GapJudgement(3, 500, None), Outcome.FILLED),  # interval unknown: something landed
    (GapJudgement(0, 500, None), Outcome.UNFILLABLE),
])
def test_what_landed_decides_the_outcome(judgement: GapJudgement, outcome: Outcome) -> None:
    assert decide(judgement) is outcome
