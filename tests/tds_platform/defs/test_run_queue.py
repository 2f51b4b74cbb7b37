"""The run-queue policy in dagster.yaml, judged by Dagster's own dequeue logic over the tags our jobs,
sensors and refreshes really carry: scheduled rollups, quality and marts start however many gap
repairs wait, and a repair's refreshes never wait behind repairs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from tds_platform.definitions import defs
from tds_platform.defs.backfill.refresh import STAGES, refresh_tags, targets
from tds_platform.defs.run_queue import DOMAIN_TAG, Lane

REPO = Path(__file__).resolve().parents[3]
POLICY_FILES = (REPO / "dagster.yaml", REPO / "deploy" / "dagster" / "dagster.yaml")
# Dagster refuses a queued run that does not say where its job comes from; the dequeue never loads it.
ORIGIN = RemoteJobOrigin(RemoteRepositoryOrigin(InProcessCodeLocationOrigin(LoadableTargetOrigin(
    python_file=__file__)), "__repository__"), "__ASSET_JOB")


def policy(path: Path) -> dict[str, object]:
    return yaml.safe_load(path.read_text())["concurrency"]


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs.get_repository_def()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A throw-away instance with the repository dagster.yaml's queue and policy (its storage is PostgreSQL)."""
    config = yaml.safe_load(POLICY_FILES[0].read_text())
    overrides = {"run_coordinator": config["run_coordinator"], "concurrency": config["concurrency"]}
    with dg.DagsterInstance.local_temp(str(tmp_path), overrides=overrides) as local:
        yield local


def tags_of(repository: dg.RepositoryDefinition) -> dict[str, Mapping[str, str]]:
    """The tags each kind of run carries, read from the definitions (not restated here)."""
    marts = repository.get_sensor_def("analytics_marts_automation")
    refreshes = {f"refresh {'+'.join(key.to_user_string() for key in target.keys)}": refresh_tags(target, stage)
                 for stage, keys in STAGES.items() for target in targets(repository, keys)[0]}
    jobs = ("gap_backfill", "refresh_rollups", "refresh_daily_rollups", "quality_hourly_job", "refresh_marts",
            "series_intervals_job", "apply_retention", "dlq_replay")
    return {**{job: repository.get_job(job).tags for job in jobs}, "marts": marts.run_tags, **refreshes}


def add(instance: dg.DagsterInstance, name: str, tags: Mapping[str, str], status: dg.DagsterRunStatus,
        count: int = 1) -> None:
    for _ in range(count):
        instance.add_run(dg.DagsterRun(job_name=name, status=status, tags={**tags, "name": name},
                                       remote_job_origin=ORIGIN if status == dg.DagsterRunStatus.QUEUED else None))


def started_next(instance: dg.DagsterInstance) -> Counter[str]:
    """Which queued runs the queue daemon would launch now: its own choice (one call of its private
    method, so a Dagster upgrade that changes it fails here loudly)."""
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    chosen = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
    return Counter(run.tags["name"] for run in chosen)


def test_both_instances_have_one_policy_and_every_lane_in_use_is_limited(repository) -> None:
    local, deployed = (policy(path) for path in POLICY_FILES)
    assert local == deployed
    limited = {limit["value"] for limit in local["runs"]["tag_concurrency_limits"] if limit["key"] == DOMAIN_TAG}
    used = {tags[DOMAIN_TAG] for tags in tags_of(repository).values()}
    assert used == limited == {lane.value for lane in Lane}


def test_refreshes_of_repaired_windows_start_while_repairs_wait(repository, instance) -> None:
    """What `make up` showed: two gap_backfill runs in progress (then they waited minutes for device
    answers) and two refreshes they triggered queued for 7+ minutes with two slots free."""
    tags = tags_of(repository)
    add(instance, "gap_backfill", tags["gap_backfill"], dg.DagsterRunStatus.STARTED, count=2)
    add(instance, "gap_backfill", tags["gap_backfill"], dg.DagsterRunStatus.QUEUED, count=15)
    add(instance, "refresh telemetry_1m+telemetry_1h", tags["refresh telemetry_1m+telemetry_1h"],
        dg.DagsterRunStatus.QUEUED)
    add(instance, "refresh quality_hourly+gaps", tags["refresh quality_hourly+gaps"], dg.DagsterRunStatus.QUEUED)

    assert started_next(instance) == {"refresh telemetry_1m+telemetry_1h": 1, "refresh quality_hourly+gaps": 1}


def test_schedules_and_marts_start_first_under_any_number_of_repairs(repository, instance) -> None:
    tags = tags_of(repository)
    add(instance, "gap_backfill", tags["gap_backfill"], dg.DagsterRunStatus.QUEUED, count=200)
    for refresh in ("refresh telemetry_1m+telemetry_1h", "refresh quality_hourly+gaps", "refresh telemetry_1d"):
        add(instance, refresh, tags[refresh], dg.DagsterRunStatus.QUEUED, count=10)
    for scheduled in ("refresh_rollups", "quality_hourly_job", "marts"):  # queued after all of them
        add(instance, scheduled, tags[scheduled], dg.DagsterRunStatus.QUEUED)

    assert started_next(instance) == {"refresh_rollups": 1, "quality_hourly_job": 1, "marts": 1, "gap_backfill": 1}


def test_repairs_and_their_refreshes_use_the_free_slots_but_never_all_of_them(repository, instance) -> None:
    tags = tags_of(repository)
    add(instance, "gap_backfill", tags["gap_backfill"], dg.DagsterRunStatus.QUEUED, count=50)
    add(instance, "refresh telemetry_1m+telemetry_1h", tags["refresh telemetry_1m+telemetry_1h"],
        dg.DagsterRunStatus.QUEUED, count=10)
    add(instance, "refresh quality_hourly+gaps", tags["refresh quality_hourly+gaps"], dg.DagsterRunStatus.QUEUED,
        count=10)

    started = started_next(instance)

    assert started == {"gap_backfill": 1, "refresh telemetry_1m+telemetry_1h": 1, "refresh quality_hourly+gaps": 1}
    assert sum(started.values()) < 4, "a slot stays free for the marts and whatever else is due"
