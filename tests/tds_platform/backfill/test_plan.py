"""The pure backfill rules: resend window, which gaps share a command, command message (as the simulator
reads it), cmd id, when an answer is complete, outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest_stream.parsing import DEFAULT_TOPIC_TEMPLATE, MessageParser, parse_templates
from tds_platform.backfill.plan import (
    GapJudgement,
    GapSpan,
    Outcome,
    Progress,
    answer_settled,
    batch_gaps,
    decide,
    follow,
    new_cmd_id,
    resend_command,
    resend_window,
    union_window,
)
from tds_platform.simulate.commands import resend_window as simulator_window
from tds_platform.simulate.fleet import FleetShape, build_fleet
from tds_platform.time_windows import Window

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


def test_a_batch_command_names_every_metric_of_its_gaps_as_the_simulator_reads_it() -> None:
    device = build_fleet(FleetShape(), seed=1)[0]
    metrics = tuple(sorted(m.name for m in device.kind.metrics))
    window = union_window([Window(T, T + MINUTE), Window(T + 30 * SECOND, T + 3 * MINUTE)])
    body = orjson.loads(resend_command("bf-1", window, metrics, T + 5 * MINUTE))

    assert simulator_window(device, body["args"]) == (T.timestamp(), (T + 3 * MINUTE).timestamp(), frozenset(metrics))


def span(gap_id: int, start_min: float, end_min: float | None, equipment: str = "ch-1") -> GapSpan:
    return GapSpan(gap_id, "acme", equipment, T + start_min * MINUTE, None if end_min is None else T + end_min * MINUTE)


NOW = T + 120 * MINUTE


@pytest.mark.parametrize(("gaps", "batches"), [
    # a device silenced as a whole: one gap per metric, ends a few seconds apart
    ([span(1, 0, 5), span(2, 0, 5.1), span(3, 0.2, 5)], [(1, 2, 3)]),
    # windows (1 min margins) 4 min apart, slack 4 min: one batch; 4 min + 1 s: two
    ([span(1, 0, 5), span(2, 11, 12)], [(1, 2)]),
    ([span(1, 0, 5), span(2, 11 + 1 / 60, 12)], [(1,), (2,)]),
    # a long gap reaches past a later short one; the third is close to the long one's end
    ([span(1, 0, 40), span(2, 10, 11), span(3, 45, 46)], [(1, 2, 3)]),
    # open gaps run up to now, so they overlap whatever started later
    ([span(1, 60, None), span(2, 100, None)], [(1, 2)]),
    # never across equipment; batches in the order of their oldest gap, ids sorted
    ([span(5, 0, 5, "ch-2"), span(2, 1, 5), span(4, 1, 6, "ch-2"), span(1, 90, 91)], [(4, 5), (2,), (1,)]),
    ([], []),
])
def test_close_gaps_of_one_equipment_share_a_batch(gaps: list[GapSpan], batches: list[tuple[int, ...]]) -> None:
    assert batch_gaps(gaps, NOW, MINUTE, 4 * MINUTE) == batches


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


TIMEOUT, SETTLE = 300 * SECOND, 3 * SECOND


@pytest.mark.parametrize(("answer", "at", "settled"), [
    (None, T + 10 * SECOND, None),  # may still answer
    ("accepted", T + 299 * SECOND, None),  # said it is on it: still waiting
    ("done", T + 10 * SECOND, T + 10 * SECOND),  # final answer: from this look on, wait for its readings
    ("partial", T + 10 * SECOND, T + 10 * SECOND),
    ("error", T + 10 * SECOND, T + 10 * SECOND),
    ("accepted", T + 300 * SECOND, T + 300 * SECOND),  # no final answer within the timeout
])
def test_an_answer_settles_at_its_final_status_or_the_timeout(answer: str | None, at: datetime,
                                                               settled: datetime | None) -> None:
    assert answer_settled(Progress(None, 0), answer, T, at, TIMEOUT) == settled
    assert answer_settled(Progress(T, 0), answer, T, at, TIMEOUT) == T, "the first look that saw it is kept"


def test_readings_still_landing_postpone_the_verdict_until_they_stop_for_the_settle_time() -> None:
    first, ready = follow(Progress(None, 100), T, 150, False, T, SETTLE, TIMEOUT)
    assert (first, ready) == (Progress(T, 150, T), False), "50 readings landed since the command went out"
    second, ready = follow(first, T, 170, False, T + 2 * SECOND, SETTLE, TIMEOUT)
    assert (second, ready) == (Progress(T, 170, T + 2 * SECOND), False)
    third, ready = follow(second, T, 170, False, T + 4 * SECOND, SETTLE, TIMEOUT)
    assert not ready, "quiet for 2 s only"
    assert follow(third, T, 170, False, T + 5 * SECOND, SETTLE, TIMEOUT)[1], "quiet for the settle time"


def test_every_gap_closed_or_the_timeout_ends_the_wait_for_readings() -> None:
    assert follow(Progress(None, 100), T, 150, True, T, SETTLE, TIMEOUT)[1], "nothing left to wait for"
    busy = Progress(T, 150, T + 299 * SECOND)
    assert not follow(busy, T, 151, False, T + 299 * SECOND, SETTLE, TIMEOUT)[1]
    assert follow(busy, T, 152, False, T + 300 * SECOND, SETTLE, TIMEOUT)[1], "a device still resending at the timeout"
    assert follow(Progress(None, 100), T, 100, False, T + SETTLE, SETTLE, TIMEOUT)[1], \
        "nothing landed since the answer: quiet since the answer"
