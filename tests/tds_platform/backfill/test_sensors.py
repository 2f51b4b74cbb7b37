"""The backfill sensors against real Dagster instances: the new-gap sensor (each gap requested once,
one command per equipment's batch of close gaps and one run per tick, thresholds, bound per tick)
over a real database, and the refresh sensor coalescing every landing a tick sees into one group of
refresh runs (landings are reported as the backfill_answers sensor reports them; refresh runs are
recorded from the sensor's requests and moved through their statuses by hand)."""

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from tds_platform.backfill.settings import BackfillSettings
from tds_platform.definitions import defs
from tds_platform.defs.backfill.jobs import build_backfill_job
from tds_platform.defs.backfill.refresh import (
    GROUP_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    SOURCE_COMMANDS_TAG,
    SOURCE_COUNT_TAG,
    STAGE_TAG,
    group_tags,
)
from tds_platform.defs.backfill.sensors import (
    CMD_ID,
    COMMAND_COUNT_TAG,
    EQUIPMENT_TAG,
    GAP_COUNT_TAG,
    GAP_IDS_TAG,
    TELEMETRY,
    TENANT_TAG,
    WINDOW_END,
    WINDOW_START,
    RefreshCursor,
    batch_run_key,
    build_new_gap_sensor,
    build_refresh_sensor,
)
from tds_platform.defs.resources import DatabaseResource

NOW = datetime.now(UTC)
SETTINGS = BackfillSettings(open_gap_min_age_s=900, max_requests_per_tick=2, lookback_days=7)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


def add_gap(url: str, metric: str, start: datetime, end: datetime | None, status: str = "none",
            cleared: bool = False, equipment: str = "ch-1") -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "INSERT INTO tds.gaps (tenant, equipment, metric, gap_start, gap_end, backfill_status, cleared_at) "
            "VALUES ('acme', %s, %s, %s, %s, %s, %s) RETURNING id",
            (equipment, metric, start, end, status, NOW if cleared else None)).fetchone()[0]


def ticked(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, url: str,
           cursor: str | None) -> tuple[list[list[int]], str | None]:
    """The gap ids of each command the tick asks for, and the new cursor; the tick's one run is
    checked to carry all its gaps in its config, run key and tags."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"database": DatabaseResource(url=url)})
    result = sensor(context)
    if not result.run_requests:
        return [], result.cursor
    [request] = result.run_requests
    batches = request.run_config["ops"]["backfill_gap"]["config"]["batches"]
    gap_ids = sorted(gap_id for batch in batches for gap_id in batch)
    assert all(batch == sorted(batch) for batch in batches) and request.run_key == batch_run_key(gap_ids)
    assert request.tags[GAP_IDS_TAG] == ",".join(map(str, gap_ids))
    assert request.tags[GAP_COUNT_TAG] == str(len(gap_ids)) and request.tags[COMMAND_COUNT_TAG] == str(len(batches))
    return batches, result.cursor


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, url: str,
         cursor: str | None) -> tuple[list[int], str | None]:
    """The gap ids requested (one command each in the tests that use this), and the new cursor."""
    batches, cursor = ticked(sensor, instance, url, cursor)
    return [gap_id for batch in batches for gap_id in batch], cursor


def test_each_gap_is_requested_once_across_ticks(database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS), SETTINGS)
    closed = add_gap(database_url, "a", NOW - timedelta(hours=3), NOW - timedelta(hours=2), equipment="ch-a")
    open_long = add_gap(database_url, "b", NOW - timedelta(hours=1), None, equipment="ch-b")
    open_late = add_gap(database_url, "c", NOW - timedelta(hours=2, minutes=30), None, equipment="ch-c")
    add_gap(database_url, "d", NOW - timedelta(minutes=5), None)  # open, not silent long enough yet
    add_gap(database_url, "e", NOW - timedelta(hours=4), NOW - timedelta(hours=3), status="filled")
    add_gap(database_url, "f", NOW - timedelta(hours=4), NOW - timedelta(hours=3), cleared=True)
    add_gap(database_url, "g", NOW - timedelta(days=8), NOW - timedelta(days=8) + timedelta(minutes=5))

    first, cursor = tick(sensor, instance, database_url, None)
    assert first == [closed, open_late], "oldest first, at most max_requests_per_tick"
    second, cursor = tick(sensor, instance, database_url, cursor)
    assert second == [open_long]
    third, cursor = tick(sensor, instance, database_url, cursor)
    assert third == []

    new = add_gap(database_url, "h", NOW - timedelta(minutes=50), NOW - timedelta(minutes=40), equipment="ch-h")
    fourth, cursor = tick(sensor, instance, database_url, cursor)
    assert fourth == [new]
    assert tick(sensor, instance, database_url, cursor)[0] == []


def test_the_cursor_forgets_gaps_once_their_run_marked_them(database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS), SETTINGS)
    gap_id = add_gap(database_url, "a", NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    _, cursor = tick(sensor, instance, database_url, None)
    assert cursor == f"[{gap_id}]"
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE tds.gaps SET backfill_status = 'requested' WHERE id = %s", (gap_id,))

    requested, cursor = tick(sensor, instance, database_url, cursor)

    assert requested == [] and cursor == "[]"


CHILLER_METRICS = ("temp_agua_saida", "temp_agua_entrada", "corrente", "pressao", "running")


def silent_device(url: str, equipment: str, start: datetime, end: datetime | None) -> list[int]:
    """The gaps a device silenced as a whole leaves: one per metric, same silence."""
    return [add_gap(url, metric, start, end, equipment=equipment) for metric in CHILLER_METRICS]


def test_the_gaps_of_one_silent_equipment_are_one_run_and_never_requested_again(
        database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS), SETTINGS)
    start = NOW - timedelta(hours=2)
    gap_ids = sorted(silent_device(database_url, "ch-1", start, start + timedelta(minutes=5)))
    context = dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=database_url)})

    result = sensor(context)

    [request] = result.run_requests
    assert request.run_config["ops"]["backfill_gap"]["config"]["batches"] == [gap_ids]
    assert request.run_key == "gaps-" + "-".join(map(str, gap_ids))
    assert request.tags[GAP_IDS_TAG] == ",".join(map(str, gap_ids)) and request.tags[GAP_COUNT_TAG] == "5"
    assert request.tags[EQUIPMENT_TAG] == "ch-1"
    assert json.loads(result.cursor) == gap_ids
    again, _ = ticked(sensor, instance, database_url, None)
    assert again == [gap_ids], "the same tick evaluated again: the same run key, which Dagster drops"
    assert ticked(sensor, instance, database_url, result.cursor)[0] == [], "requested, not started: not asked again"


def test_each_equipment_gets_its_own_command_and_a_tick_one_run(
        database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS), SETTINGS)
    first = silent_device(database_url, "ch-1", NOW - timedelta(hours=2), NOW - timedelta(hours=1, minutes=55))
    second = silent_device(database_url, "ch-2", NOW - timedelta(hours=2), NOW - timedelta(hours=1, minutes=55))

    batches, _ = ticked(sensor, instance, database_url, None)

    assert batches == [sorted(first), sorted(second)]
    context = dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=database_url)})
    [request] = sensor(context).run_requests
    assert (request.tags[EQUIPMENT_TAG], request.tags[TENANT_TAG]) == ("ch-1,ch-2", "acme")


def test_gaps_of_one_equipment_share_a_command_only_when_close_together(
        database_url: str, instance: dg.DagsterInstance) -> None:
    settings = SETTINGS.model_copy(update={"margin_s": 60, "batch_slack_s": 300})
    sensor = build_new_gap_sensor(build_backfill_job(settings), settings)
    start = NOW - timedelta(hours=5)
    early = add_gap(database_url, "a", start, start + timedelta(minutes=5))
    # windows 2 min (margins) + 4 min apart: within the 5 min slack
    close = add_gap(database_url, "b", start + timedelta(minutes=11), start + timedelta(minutes=12))
    overlapping = add_gap(database_url, "a", start + timedelta(minutes=13), start + timedelta(minutes=14))
    # 20 min after the batch's end: its own command
    far = add_gap(database_url, "c", start + timedelta(minutes=36), start + timedelta(minutes=40))

    batches, _ = ticked(sensor, instance, database_url, None)

    assert batches == [sorted([early, close, overlapping]), [far]]


def test_the_limit_per_tick_counts_commands_and_never_splits_an_equipments_batch(
        database_url: str, instance: dg.DagsterInstance) -> None:
    sensor = build_new_gap_sensor(build_backfill_job(SETTINGS), SETTINGS)
    devices = {name: silent_device(database_url, name, NOW - timedelta(hours=hours), NOW - timedelta(hours=hours - 1))
               for name, hours in (("ch-1", 4), ("ch-2", 3), ("ch-3", 2))}

    first, cursor = ticked(sensor, instance, database_url, None)
    second, cursor = ticked(sensor, instance, database_url, cursor)

    assert first == [sorted(devices["ch-1"]), sorted(devices["ch-2"])], "max_requests_per_tick=2: two commands, 10 gaps"
    assert second == [sorted(devices["ch-3"])]
    assert ticked(sensor, instance, database_url, cursor)[0] == []


def test_batch_run_keys_are_deterministic_and_stay_short() -> None:
    assert batch_run_key([7]) == "gap-7", "a single gap keeps the key it always had"
    assert batch_run_key([12, 3, 5]) == batch_run_key([3, 5, 12]) == "gaps-3-5-12"
    many = list(range(1_000_000, 1_000_040))
    key = batch_run_key(many)
    assert key == batch_run_key(list(reversed(many))) and len(key) < 63
    assert key.startswith("gaps-1000000-to-1000039-n40-")
    assert batch_run_key(many[:-1]) != key


# A past day well inside the partitions, so every hourly and daily partition below exists.
DAY = datetime(2026, 11, 10, tzinfo=UTC)
ROLLUPS = frozenset({dg.AssetKey("telemetry_1m"), dg.AssetKey("telemetry_1h")})
QUALITY = frozenset({dg.AssetKey("quality_hourly"), dg.AssetKey("gaps")})
DAILY = frozenset({dg.AssetKey("telemetry_1d")})
# Dagster refuses a queued run that does not say where its job comes from; the sensor never reads it.
ORIGIN = RemoteJobOrigin(RemoteRepositoryOrigin(InProcessCodeLocationOrigin(LoadableTargetOrigin(
    python_file=__file__)), "__repository__"), "__ASSET_JOB")


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs.get_repository_def()


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:00")


_commands = iter(range(1, 1_000_000))


def landed(instance: dg.DagsterInstance, start: datetime, end: datetime) -> str:
    """Reports a landed window exactly as the backfill_answers sensor does, without a device or a
    broker; returns its command id."""
    cmd_id = f"bf-20261110T000000Z-{next(_commands):08x}"
    instance.report_runless_asset_event(dg.AssetObservation(asset_key=TELEMETRY, metadata={
        WINDOW_START: start.isoformat(), WINDOW_END: end.isoformat(), CMD_ID: cmd_id}))
    return cmd_id


class RefreshSensor:
    """The refresh sensor ticking against one instance, carrying its cursor like the daemon does."""

    def __init__(self, instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
        self.sensor, self.instance, self.repository, self.cursor = build_refresh_sensor(), instance, repository, None

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(instance=self.instance, repository_def=self.repository, cursor=self.cursor)
        result = self.sensor(context)
        self.cursor = result.cursor or self.cursor
        return list(result.run_requests or [])


def submit(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.DagsterRun:
    """A queued run for the request, tagged as the daemon tags a sensor's run."""
    tags = {**request.tags, "dagster/run_key": request.run_key}
    if request.partition_key:
        tags["dagster/partition"] = request.partition_key
    return instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.QUEUED, tags=tags,
                                          asset_selection=frozenset(request.asset_selection),
                                          remote_job_origin=ORIGIN))


def move(instance: dg.DagsterInstance, run: dg.DagsterRun, event: dg.DagsterEventType) -> None:
    """What the run worker reports: RUN_START, RUN_SUCCESS or RUN_FAILURE."""
    instance.report_dagster_event(dg.DagsterEvent(event.value, job_name=run.job_name), run.run_id)


def run_all(instance: dg.DagsterInstance, requests: Sequence[dg.RunRequest],
            event: dg.DagsterEventType = dg.DagsterEventType.RUN_SUCCESS) -> None:
    for request in requests:
        move(instance, submit(instance, request), event)


def partitions(request: dg.RunRequest, partitions_def: dg.TimeWindowPartitionsDefinition) -> list[str]:
    """The partition keys one request refreshes: its partition, or every key of its range."""
    if request.partition_key:
        return [request.partition_key]
    key_range = dg.PartitionKeyRange(request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG])
    return partitions_def.get_partition_keys_in_range(key_range)


def refreshed(repository: dg.RepositoryDefinition, requests: Sequence[dg.RunRequest]) -> Counter:
    """How often each (asset set, partition) is asked for across the requests."""
    graph = repository.asset_graph
    return Counter((frozenset(request.asset_selection), key) for request in requests
                   for key in partitions(request, graph.get(request.asset_selection[0]).partitions_def))


def test_backfills_finishing_in_one_tick_share_one_refresh_per_partition_and_one_daily_stage(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    sources = [landed(instance, at(10, 5), at(10, 10)), landed(instance, at(10, 20), at(10, 30)),
               landed(instance, at(10, 50), at(11))]
    sensor = RefreshSensor(instance, repository)

    stage1 = sensor.tick()

    assert refreshed(repository, stage1) == {(ROLLUPS, hour(at(10))): 1, (QUALITY, hour(at(10))): 1}
    assert len(stage1) == 2, "one run per asset set for the one hour all three windows touch"
    for request in stage1:
        assert request.tags[STAGE_TAG] == "1" and request.tags[GROUP_TAG] == sources[0]
        assert request.tags[SOURCE_COMMANDS_TAG] == ",".join(sources) and request.tags[SOURCE_COUNT_TAG] == "3"
    again = RefreshSensor(instance, repository).tick()
    assert [r.run_key for r in again] == [r.run_key for r in stage1], "the same tick evaluated again: same run keys"
    assert sensor.tick() == [], "nothing new finished"

    run_all(instance, stage1)
    [stage2] = sensor.tick()

    assert refreshed(repository, [stage2]) == {(DAILY, "2026-11-10"): 1}
    assert (stage2.tags[STAGE_TAG], stage2.tags[GROUP_TAG], stage2.tags[SOURCE_COUNT_TAG]) == ("2", sources[0], "3")
    assert sensor.tick() == []


def test_refreshes_queue_in_the_lanes_of_the_schedules_they_repeat_behind_them(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    landed(instance, at(10, 5), at(10, 10))
    sensor = RefreshSensor(instance, repository)

    stage1 = sensor.tick()
    run_all(instance, stage1)
    [stage2] = sensor.tick()

    lanes = {frozenset(request.asset_selection): (request.tags["tds/domain"], request.tags["dagster/priority"])
             for request in [*stage1, stage2]}
    assert lanes == {ROLLUPS: ("rollups", "-1"), QUALITY: ("quality", "-1"), DAILY: ("rollups", "-1")}, \
        "never the lane of the gap_backfill runs, whose limit they once shared with runs waiting for devices"


def test_only_landings_start_a_refresh_and_an_unreadable_cursor_starts_over(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    instance.report_runless_asset_event(dg.AssetObservation(asset_key=TELEMETRY, metadata={"newest_reading": "x"}))
    sensor = RefreshSensor(instance, repository)
    assert sensor.tick() == [], "the observe_sources schedule's observations of telemetry are no landing"

    cmd_id = landed(instance, at(10, 5), at(10, 10))
    sensor.cursor = "2026-11-10T10:00:00+00:00"  # the cursor before landings were observations
    requests = sensor.tick()

    assert {request.tags[GROUP_TAG] for request in requests} == {cmd_id}
    cursor = RefreshCursor.parse(sensor.cursor, NOW)
    assert cursor.landing_storage_id is not None and sensor.tick() == []


def test_windows_in_different_hours_and_days_refresh_their_union_once(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    landed(instance, at(10, 30), at(11, 30))
    landed(instance, at(11, 10), at(11, 20))
    landed(instance, at(14, 0), at(14, 30))
    landed(instance, at(25, 0), at(25, 10))  # 01:00 the next day
    sensor = RefreshSensor(instance, repository)

    stage1 = sensor.tick()

    hours = [hour(at(h)) for h in (10, 11, 14, 25)]
    assert refreshed(repository, stage1) == Counter({(assets, key): 1 for assets in (ROLLUPS, QUALITY)
                                                     for key in hours})
    assert len(stage1) == 6, "single-run assets: one run per contiguous range (10-11, 14, 01) per asset set"

    run_all(instance, stage1)
    [stage2] = sensor.tick()

    assert (stage2.tags[RANGE_START_TAG], stage2.tags[RANGE_END_TAG]) == ("2026-11-10", "2026-11-11")


def test_the_daily_stage_waits_for_every_refresh_of_the_group_and_never_follows_a_failure(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    landed(instance, at(10, 5), at(10, 10))
    landed(instance, at(14, 5), at(14, 10))
    sensor = RefreshSensor(instance, repository)
    stage1 = sensor.tick()
    early = [r for r in stage1 if r.partition_key == hour(at(10))]
    late = [r for r in stage1 if r.partition_key == hour(at(14))]
    assert len(early) == len(late) == 2

    run_all(instance, early)
    waiting = submit(instance, late[0])
    move(instance, submit(instance, late[1]), dg.DagsterEventType.RUN_SUCCESS)
    assert sensor.tick() == [], "a refresh of the group is still queued"

    move(instance, waiting, dg.DagsterEventType.RUN_FAILURE)
    assert sensor.tick() == [], "a refresh of the group failed"


def test_partitions_whose_refresh_is_still_queued_are_not_asked_for_again_but_running_ones_are(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    landed(instance, at(10, 5), at(10, 10))
    sensor = RefreshSensor(instance, repository)
    first = {frozenset(r.asset_selection): submit(instance, r) for r in sensor.tick()}

    landed(instance, at(10, 40), at(10, 45))
    landed(instance, at(12, 0), at(12, 5))
    second = sensor.tick()
    assert refreshed(repository, second) == {(ROLLUPS, hour(at(12))): 1, (QUALITY, hour(at(12))): 1}, \
        "hour 10's queued refreshes start after this landing, so they cover it"

    move(instance, first[ROLLUPS], dg.DagsterEventType.RUN_START)
    landed(instance, at(10, 50), at(10, 55))
    third = sensor.tick()
    assert refreshed(repository, third) == {(ROLLUPS, hour(at(10))): 1}, \
        "the running rollup refresh may have read before this landing; the queued quality one has not"


def test_a_daily_refresh_still_queued_covers_a_later_group_but_a_running_one_does_not(
        instance: dg.DagsterInstance, repository: dg.RepositoryDefinition) -> None:
    landed(instance, at(10, 5), at(10, 10))
    sensor = RefreshSensor(instance, repository)
    run_all(instance, sensor.tick())
    [daily] = sensor.tick()
    queued_daily = submit(instance, daily)

    landed(instance, at(12, 0), at(12, 5))
    run_all(instance, sensor.tick())
    assert sensor.tick() == [], "the queued daily refresh starts after this group's hourly ones succeeded"

    move(instance, queued_daily, dg.DagsterEventType.RUN_START)
    landed(instance, at(13, 0), at(13, 5))
    run_all(instance, sensor.tick())
    assert refreshed(repository, sensor.tick()) == {(DAILY, "2026-11-10"): 1}, "the running one may have read too early"


def test_the_group_tags_stay_short_however_many_backfills_one_tick_saw() -> None:
    ids = [f"bf-20261110T000000Z-{n:08x}" for n in range(40)]

    tags = group_tags(ids)

    assert tags[GROUP_TAG] == ids[0], "named after the first (oldest) source command"
    assert tags[SOURCE_COMMANDS_TAG] == ",".join(ids[:5]) + ",+35 more"
    assert tags[SOURCE_COUNT_TAG] == "40" and all(len(value) < 200 for value in tags.values())
