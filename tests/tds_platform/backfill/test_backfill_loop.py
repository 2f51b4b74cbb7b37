"""Gap backfill end-to-end over the real broker: command out, device answers, the writer lands, the
answer is judged later (as the backfill_answers sensor does) and each outcome recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tds_platform.backfill.answers import Verdict
from tds_platform.backfill.run import BackfillRequestError, request_for_gaps, send
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.db.engine import engine_for
from tests.tds_platform.backfill.conftest import judged


def backfill(rig, gap_id: int, settings: BackfillSettings) -> Verdict:
    engine = engine_for(rig.url)
    request = request_for_gaps(engine, [gap_id], settings, rig.every[-1] + timedelta(hours=1))
    sent = send(engine, rig.stack.platform_mqtt_url(), request)
    assert rig.gap(gap_id)["backfill_status"] == "requested", "sending returns before the device answered"
    return judged(rig.url, settings, sent.cmd_id)


def test_a_device_that_resends_everything_fills_the_gap(rig, fast: BackfillSettings) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    device = rig.device("done")

    report = backfill(rig, gap_id, fast)

    assert rig.landed() == rig.every, "every missing reading landed, none doubled"
    gap = rig.gap(gap_id)
    assert gap["backfill_status"] == "filled"
    assert gap["backfill_cmd_id"] == report.cmd_id
    assert (gap["backfill_from"], gap["backfill_to"]) == (rig.every[15], rig.every[38])  # 20 s margin each side
    assert gap["backfill_requested_at"] <= gap["backfill_finished_at"]
    assert gap["backfill_detail"].startswith("device answered done (23 readings resent); 18 readings inside the gap")
    assert report.readings_landed == 18
    [command] = device.commands
    assert command["cmd"] == "resend" and command["args"]["metrics"] == ["temp"]
    assert rig.query("SELECT status FROM tds.cmd_ack WHERE cmd_id = %s", report.cmd_id) == [("done",)]


def test_a_device_that_forgot_half_the_window_partially_fills_it(rig, fast: BackfillSettings) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    rig.device("partial", forget_after=rig.every[26])

    report = backfill(rig, gap_id, fast)

    assert report.readings_landed == 9
    assert set(rig.every[18:27]) <= set(rig.landed()) and not set(rig.every[27:36]) & set(rig.landed())
    gap = rig.gap(gap_id)
    assert gap["backfill_status"] == "partially_filled"
    assert "device answered partial" in gap["backfill_detail"]
    assert "longest silence 100 s (limit 30 s)" in gap["backfill_detail"]


def test_a_device_that_never_answers_makes_the_gap_unfillable_after_the_timeout(rig, fast: BackfillSettings) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    device = rig.device("silent")

    report = backfill(rig, gap_id, fast.model_copy(update={"answer_timeout_s": 1.5}))

    assert len(device.commands) == 1, "the command reached the device"
    assert report.final_answer is None and report.readings_landed == 0
    gap = rig.gap(gap_id)
    assert gap["backfill_status"] == "unfillable"
    assert gap["backfill_detail"].startswith("no final answer from the device within 1.5 s; 0 readings inside")
    assert gap["backfill_finished_at"] is not None


def test_an_unknown_gap_is_refused_in_one_sentence(rig, fast: BackfillSettings) -> None:
    with pytest.raises(BackfillRequestError, match="there is no gap with id 999999"):
        request_for_gaps(engine_for(rig.url), [999999], fast, rig.t0)
