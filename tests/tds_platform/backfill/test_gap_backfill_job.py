"""The gap_backfill job as the new-gap sensor launches it (one run per tick, one command per
equipment's batch of gaps, each gap judged on its own by the backfill_answers sensor) and as an operator launches it
(one gap id, or equipment + window), and the refresh it triggers: stage 1 re-materializes the
hourly rollups over the window, stage 2 the daily one after stage 1 succeeded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from tds_platform.backfill.answers import AnswerJudge
from tds_platform.backfill.plan import Outcome
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.db.engine import engine_for
from tds_platform.defs import rollups as rollups_defs
from tds_platform.defs import sources as sources_defs
from tds_platform.defs.backfill.jobs import build_backfill_job
from tds_platform.defs.backfill.refresh import (
    GROUP_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    STAGE_TAG,
    RefreshTarget,
    run_requests,
)
from tds_platform.defs.backfill.resources import CommandBrokerResource
from tds_platform.defs.backfill.sensors import (
    build_answer_sensor,
    build_new_gap_sensor,
    build_refresh_sensor,
    landed_window,
)
from tds_platform.defs.partitions import hourly_partitions
from tds_platform.defs.resources import DatabaseResource
from tds_platform.retention.policy import RetentionSettings
from tds_platform.rollups.settings import RollupSettings
from tests.tds_platform.backfill.conftest import GAP_FACTOR, BackfillRig, iso

CHILLER_METRICS = ("corrente", "pressao", "running", "temp_agua_entrada", "temp_agua_saida")


def hour_key(moment) -> str:
    return moment.strftime("%Y-%m-%d-%H:00")


def minute_counts(url: str, tenant: str, start, end) -> dict:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT bucket, n FROM tds.telemetry_1m WHERE tenant = %s AND bucket >= %s "
                            "AND bucket < %s ORDER BY bucket", (tenant, start, end)).fetchall()
    return dict(rows)


def answered(rig: BackfillRig, settings: BackfillSettings, instance: dg.DagsterInstance,
             timeout_s: float = 60) -> list[dg.AssetObservation]:
    """Ticks of the backfill_answers sensor until it judged something; its landing observations,
    recorded in the instance as the daemon records a sensor's asset events."""
    sensor = build_answer_sensor(settings, GAP_FACTOR)
    resources = {"database": DatabaseResource(url=rig.url)}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        if result.asset_events or "judged" in str(result.skip_reason):
            for event in result.asset_events:
                instance.report_runless_asset_event(event)
            return list(result.asset_events)
        time.sleep(0.2)
    raise AssertionError(f"the backfill_answers sensor judged nothing within {timeout_s:g} s")


def test_operator_window_backfill_fills_and_refreshes_rollups_in_two_stages(rig, fast) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    rig.device("done")
    resources = {"database": DatabaseResource(url=rig.url),
                 "command_broker": CommandBrokerResource(url=rig.stack.platform_mqtt_url())}
    job = build_backfill_job(fast)
    config = {"tenant": rig.tenant, "equipment": rig.equipment, "metric": "temp",
              "window_start": rig.every[10].isoformat(), "window_end": rig.every[40].isoformat()}
    rollups = rollups_defs.build_defs(RollupSettings(), RetentionSettings())
    repository = dg.Definitions.merge(sources_defs.build_defs(), rollups, dg.Definitions(
        jobs=[job], resources=resources)).get_repository_def()
    sensor = build_refresh_sensor()

    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(run_config={"ops": {"backfill_gap": {"config": config}}},
                                        instance=instance, resources=resources)
        assert result.success
        assert rig.gap(gap_id)["backfill_status"] == "requested", "the run sent the command and did not wait"
        [landing] = answered(rig, fast, instance)
        assert rig.landed() == rig.every
        assert rig.gap(gap_id)["backfill_status"] == "filled"
        cmd_id = rig.gap(gap_id)["backfill_cmd_id"]
        assert landing.metadata["cmd_id"].value == cmd_id

        context = dg.build_sensor_context(instance=instance, repository_def=repository)
        first = sensor(context)
        [stage1] = first.run_requests
        assert set(stage1.asset_selection) == {dg.AssetKey("telemetry_1m"), dg.AssetKey("telemetry_1h")}
        assert (stage1.tags[GROUP_TAG], stage1.tags[STAGE_TAG]) == (cmd_id, "1")
        assert (stage1.tags["tds/domain"], stage1.tags["dagster/priority"]) == ("rollups", "-1")
        assert stage1.partition_key == hour_key(rig.t0), "the window lies in one hour: one partition"

        assert minute_counts(rig.url, rig.tenant, rig.t0, rig.t0 + timedelta(minutes=10)) == {}
        hourly = [a for a in rollups.assets if a.key in stage1.asset_selection]
        assert dg.materialize(hourly, instance=instance, resources=resources, partition_key=stage1.partition_key,
                              tags=stage1.tags).success
        counts = minute_counts(rig.url, rig.tenant, rig.t0, rig.t0 + timedelta(minutes=10))
        assert list(counts.values()) == [6] * 10, "every minute of the window, gap minutes included, is whole"

        second = sensor(dg.build_sensor_context(instance=instance, repository_def=repository, cursor=first.cursor))
        [stage2] = second.run_requests
        assert stage2.asset_selection == [dg.AssetKey("telemetry_1d")]
        assert stage2.partition_key == rig.t0.strftime("%Y-%m-%d")
        assert stage2.run_key == f"{cmd_id}:2:telemetry_1d:{stage2.partition_key}"

        third = sensor(dg.build_sensor_context(instance=instance, repository_def=repository, cursor=second.cursor))
        assert not third.run_requests


def test_assets_without_a_single_run_policy_get_one_run_per_partition(rig) -> None:
    target = RefreshTarget((dg.AssetKey("quality_hourly"),), hourly_partitions, single_run=False)
    start = rig.t0 + timedelta(minutes=50)

    requests = run_requests(target, [dg.TimeWindow(start, start + timedelta(hours=1))], 1, {GROUP_TAG: "run-1"})

    assert [r.partition_key for r in requests] == [hour_key(rig.t0), hour_key(rig.t0 + timedelta(hours=1))]
    assert requests[0].run_key == f"run-1:1:quality_hourly:{hour_key(rig.t0)}"


def test_single_run_assets_get_one_run_over_the_partition_range(rig) -> None:
    target = RefreshTarget((dg.AssetKey("telemetry_1m"),), hourly_partitions, single_run=True)
    start = rig.t0 + timedelta(minutes=50)

    [request] = run_requests(target, [dg.TimeWindow(start, start + timedelta(hours=2))], 1, {GROUP_TAG: "run-1"})

    assert request.partition_key is None
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        hour_key(rig.t0), hour_key(rig.t0 + timedelta(hours=2)))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


def resources_for(rig: BackfillRig) -> dict[str, object]:
    return {"database": DatabaseResource(url=rig.url),
            "command_broker": CommandBrokerResource(url=rig.stack.platform_mqtt_url())}


def sensor_requests(rig: BackfillRig, settings: BackfillSettings, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """What one tick of the new-gap sensor asks for over the rig's gaps."""
    sensor = build_new_gap_sensor(build_backfill_job(settings), settings)
    context = dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=rig.url)})
    return list(sensor(context).run_requests or [])


def launch(rig: BackfillRig, settings: BackfillSettings, instance: dg.DagsterInstance,
           request: dg.RunRequest) -> tuple[dg.ExecuteInProcessResult, list[dg.AssetObservation]]:
    """The run the daemon would start for the request, then the backfill_answers sensor's ticks until
    it judged the command the run sent (if it sent one); the landing observations."""
    job = build_backfill_job(settings)
    result = job.execute_in_process(run_config=request.run_config, instance=instance, resources=resources_for(rig),
                                    tags=request.tags, raise_on_error=False)
    [(waiting,)] = rig.query("SELECT count(*) FROM tds.backfill_commands WHERE judged_at IS NULL")
    return result, answered(rig, settings, instance) if waiting else []


def test_one_run_and_one_command_repair_every_gap_of_a_silent_equipment(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    gap_ids = rig.seed_equipment(rig.equipment, {metric: [(17, 36)] for metric in CHILLER_METRICS})
    rig.start_writer()
    device = rig.device("done", metrics=CHILLER_METRICS)

    [request] = sensor_requests(rig, fast, instance)
    result, [landing] = launch(rig, fast, instance, request)

    assert result.success
    [command] = device.commands
    assert command["args"] == {"from": iso(rig.every[15]), "to": iso(rig.every[38]), "metrics": list(CHILLER_METRICS)}
    gaps = [rig.gap(gap_id) for gap_id in gap_ids]
    assert [gap["backfill_status"] for gap in gaps] == ["filled"] * 5
    assert {(gap["backfill_cmd_id"], gap["backfill_from"], gap["backfill_to"]) for gap in gaps} == {
        (command["cmd_id"], rig.every[15], rig.every[38])}
    assert all(gap["backfill_detail"].startswith("device answered done (115 readings resent); 18 readings inside")
               for gap in gaps)
    assert all(rig.landed(metric=metric) == rig.every for metric in CHILLER_METRICS)
    assert landed_window(landing) == (command["cmd_id"], dg.TimeWindow(rig.every[15], rig.every[38])), \
        "the refresh sensor reads the one union window from the telemetry observation of the answer"
    assert sensor_requests(rig, fast, instance) == [], "the gaps are marked: the next tick asks for nothing"


def test_a_run_never_waits_for_a_device_that_does_not_answer(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    device = rig.device("silent")
    patient = fast.model_copy(update={"answer_timeout_s": 300})
    [request] = sensor_requests(rig, patient, instance)

    started = time.monotonic()
    result = build_backfill_job(patient).execute_in_process(
        run_config=request.run_config, instance=instance, resources=resources_for(rig), tags=request.tags)
    took = time.monotonic() - started

    assert result.success and took < 60, f"the run took {took:.0f} s: it waited for the device"
    assert rig.gap(gap_id)["backfill_status"] == "requested"
    judge, now = AnswerJudge(engine_for(rig.url), patient, GAP_FACTOR), datetime.now(UTC)
    assert judge.look(now) == [], "the device may still answer"
    assert judge.look(now + timedelta(seconds=300)) == [], "timed out: readings could still be on their way"
    [verdict] = judge.look(now + timedelta(seconds=300 + fast.settle_s))
    assert verdict.outcomes == {gap_id: Outcome.UNFILLABLE} and verdict.readings_landed == 0
    assert rig.gap(gap_id)["backfill_detail"].startswith("no final answer from the device within 300 s")
    assert len(device.commands) == 1


def test_one_run_sends_each_equipment_of_a_tick_its_own_command(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    answering = rig.seed_equipment("ch-1", {"temp": [(17, 36)]})
    other = rig.seed_equipment("ch-2", {"temp": [(20, 30)], "pressao": [(20, 30)]})
    rig.start_writer()
    first, second = rig.device("done", equipment="ch-1"), rig.device("done", equipment="ch-2",
                                                                      metrics=("temp", "pressao"))

    [request] = sensor_requests(rig, fast, instance)
    result, landings = launch(rig, fast, instance, request)

    assert result.success and len(first.commands) == len(second.commands) == 1
    assert first.commands[0]["args"]["metrics"] == ["temp"]
    assert second.commands[0]["args"]["metrics"] == ["pressao", "temp"]
    assert [rig.gap(gap_id)["backfill_status"] for gap_id in answering + other] == ["filled"] * 3
    assert sorted(landing.metadata["equipment"].value for landing in landings) == ["ch-1", "ch-2"]


def test_each_gap_of_a_batch_is_judged_on_its_own(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    short, long = rig.seed_equipment(rig.equipment, {"temp": [(10, 20)], "pressao": [(18, 40)]})
    rig.start_writer()
    device = rig.device("partial", forget_after=rig.every[25], metrics=("temp", "pressao"))

    [request] = sensor_requests(rig, fast, instance)
    assert launch(rig, fast, instance, request)[0].success

    [command] = device.commands
    assert command["args"] == {"from": iso(rig.every[8]), "to": iso(rig.every[42]), "metrics": ["pressao", "temp"]}
    assert rig.gap(short)["backfill_status"] == "filled", "all it missed was still in the device's memory"
    assert rig.gap(long)["backfill_status"] == "partially_filled"
    assert "device answered partial" in rig.gap(long)["backfill_detail"]
    assert "7 readings inside the gap, longest silence 150 s (limit 30 s)" in rig.gap(long)["backfill_detail"]


def test_a_device_error_marks_every_gap_of_the_batch_as_for_a_single_gap(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    metrics = CHILLER_METRICS[:3]
    gap_ids = rig.seed_equipment(rig.equipment, {metric: [(17, 36)] for metric in metrics})
    rig.start_writer()
    device = rig.device("error", metrics=metrics)

    [request] = sensor_requests(rig, fast, instance)
    result, landings = launch(rig, fast, instance, request)

    assert result.success and len(device.commands) == 1
    for gap_id in gap_ids:
        gap = rig.gap(gap_id)
        assert gap["backfill_status"] == "unfillable"
        assert gap["backfill_detail"].startswith("device answered error (buffer unavailable); 0 readings inside")
    assert landings == [], "nothing landed: nothing to refresh"


def test_gaps_cleared_before_the_run_are_left_out_of_its_command(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    cleared, current = rig.seed_equipment(rig.equipment, {"temp": [(17, 36)], "pressao": [(20, 30)]})
    rig.start_writer()
    device = rig.device("done", metrics=("temp", "pressao"))
    [request] = sensor_requests(rig, fast, instance)
    rig.query("UPDATE tds.gaps SET cleared_at = now() WHERE id = %s RETURNING id", cleared)

    assert launch(rig, fast, instance, request)[0].success

    [command] = device.commands
    assert command["args"] == {"from": iso(rig.every[18]), "to": iso(rig.every[32]), "metrics": ["pressao"]}
    assert (rig.gap(cleared)["backfill_status"], rig.gap(current)["backfill_status"]) == ("none", "filled")


def test_an_operator_still_backfills_one_gap_by_its_id(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    device = rig.device("done")

    result, _ = launch(rig, fast, instance, dg.RunRequest(run_config={"ops": {"backfill_gap": {"config": {
        "gap_id": gap_id}}}}))

    assert result.success and rig.gap(gap_id)["backfill_status"] == "filled"
    [command] = device.commands
    assert command["args"]["metrics"] == ["temp"]


@pytest.mark.parametrize(("config", "sentence"), [
    (lambda first, second: {"gap_ids": [first, second]}, "the gaps belong to more than one equipment"),
    (lambda first, second: {"batches": [[first], [first, second]]}, "the gaps belong to more than one equipment"),
    (lambda first, second: {"gap_ids": []}, "gap_ids names no gap"),
    (lambda first, second: {"batches": [[first], []]}, "batches names no gap"),
    (lambda first, second: {"gap_id": first, "gap_ids": [second]}, "give only one of gap_ids and gap_id"),
])
def test_config_naming_gaps_wrongly_fails_in_one_sentence(
        rig: BackfillRig, fast: BackfillSettings, instance: dg.DagsterInstance,
        config: Callable[[int, int], dict[str, object]], sentence: str) -> None:
    [first] = rig.seed_equipment("ch-1", {"temp": [(17, 36)]})
    [second] = rig.seed_equipment("ch-2", {"temp": [(17, 36)]})

    result, _ = launch(rig, fast, instance, dg.RunRequest(run_config={"ops": {"backfill_gap": {"config": config(
        first, second)}}}))

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert sentence in failure.step_failure_data.error.message
