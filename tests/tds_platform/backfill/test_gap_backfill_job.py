"""The gap_backfill job as an operator launches it (equipment + window), and the refresh it triggers:
stage 1 re-materializes the hourly rollups over the window, stage 2 the daily one after stage 1 succeeded."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import psycopg

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
from tds_platform.defs.backfill.sensors import build_refresh_sensor
from tds_platform.defs.partitions import hourly_partitions
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings


def hour_key(moment) -> str:
    return moment.strftime("%Y-%m-%d-%H:00")


def minute_counts(url: str, tenant: str, start, end) -> dict:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT bucket, n FROM tds.telemetry_1m WHERE tenant = %s AND bucket >= %s "
                            "AND bucket < %s ORDER BY bucket", (tenant, start, end)).fetchall()
    return dict(rows)


def test_operator_window_backfill_fills_and_refreshes_rollups_in_two_stages(rig, fast) -> None:
    gap_id = rig.seed()
    rig.start_writer()
    rig.device("done")
    resources = {"database": DatabaseResource(url=rig.url),
                 "command_broker": CommandBrokerResource(url=rig.stack.platform_mqtt_url())}
    job = build_backfill_job(fast, QualitySettings())
    config = {"tenant": rig.tenant, "equipment": rig.equipment, "metric": "temp",
              "window_start": rig.every[10].isoformat(), "window_end": rig.every[40].isoformat()}
    repository = dg.Definitions.merge(sources_defs.defs, rollups_defs.defs, dg.Definitions(
        jobs=[job], resources=resources)).get_repository_def()
    sensor = build_refresh_sensor()

    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(run_config={"ops": {"backfill_gap": {"config": config}}},
                                        instance=instance, resources=resources)
        assert result.success
        assert rig.landed() == rig.every
        assert rig.gap(gap_id)["backfill_status"] == "filled"

        context = dg.build_sensor_context(instance=instance, repository_def=repository)
        first = sensor(context)
        [stage1] = first.run_requests
        assert set(stage1.asset_selection) == {dg.AssetKey("telemetry_1m"), dg.AssetKey("telemetry_1h")}
        assert (stage1.tags[GROUP_TAG], stage1.tags[STAGE_TAG]) == (result.run_id, "1")
        assert stage1.partition_key == hour_key(rig.t0), "the window lies in one hour: one partition"

        assert minute_counts(rig.url, rig.tenant, rig.t0, rig.t0 + timedelta(minutes=10)) == {}
        hourly = [a for a in rollups_defs.defs.assets if a.key in stage1.asset_selection]
        assert dg.materialize(hourly, instance=instance, resources=resources, partition_key=stage1.partition_key,
                              tags=stage1.tags).success
        counts = minute_counts(rig.url, rig.tenant, rig.t0, rig.t0 + timedelta(minutes=10))
        assert list(counts.values()) == [6] * 10, "every minute of the window, gap minutes included, is whole"

        second = sensor(dg.build_sensor_context(instance=instance, repository_def=repository, cursor=first.cursor))
        [stage2] = second.run_requests
        assert stage2.asset_selection == [dg.AssetKey("telemetry_1d")]
        assert stage2.partition_key == rig.t0.strftime("%Y-%m-%d")
        assert stage2.run_key == f"{result.run_id}:2:telemetry_1d:{stage2.partition_key}"

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
