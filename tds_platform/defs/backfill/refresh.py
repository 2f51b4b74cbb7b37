"""Which rollup and quality partitions backfilled windows touch, as Dagster run requests.

Why run requests rather than refreshing inside the backfill run: the rollup and quality assets
keep their own code, checks and lineage, and each refresh shows up in the UI as an ordinary
materialization of the asset and partition it repaired. Order matters (telemetry_1d is built from
telemetry_1h), so stage 1 refreshes the hourly assets and stage 2 the daily one once stage 1 has
succeeded. The windows of one refresh group (every judged backfill one sensor tick saw) are merged into
the partitions they touch, so each partition is asked for once per group however many windows
touch it; partitions whose refresh is still pending are left out. Assets with a single-run
backfill policy get one run per contiguous range of partitions; others one run per partition.
Pure: it reads only the asset graph, the windows and run tags, never the database.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from tds_platform.defs.run_queue import REPAIR_PRIORITY, Lane, lane_tags

# stage number -> assets refreshed in it; stage 2 waits for every stage-1 run of the same group
STAGES: Mapping[int, tuple[dg.AssetKey, ...]] = {
    1: (dg.AssetKey("telemetry_1m"), dg.AssetKey("telemetry_1h"), dg.AssetKey("quality_hourly"),
        dg.AssetKey("gaps")),
    2: (dg.AssetKey("telemetry_1d"),),
}
LAST_STAGE = max(STAGES)
# The run-queue lane of each refreshed asset: that of the job whose schedule refreshes it.
LANES: Mapping[dg.AssetKey, Lane] = (
    {dg.AssetKey(name): Lane.ROLLUPS for name in ("telemetry_1m", "telemetry_1h", "telemetry_1d")}
    | {dg.AssetKey(name): Lane.QUALITY for name in ("quality_hourly", "gaps")}
)

GROUP_TAG = "tds/refresh_group"
SOURCE_COMMANDS_TAG = "tds/backfill_commands"
SOURCE_COUNT_TAG = "tds/backfill_command_count"
STAGE_TAG = "tds/refresh_stage"
WINDOW_START_TAG = "tds/refresh_window_start"
WINDOW_END_TAG = "tds/refresh_window_end"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# The group's tags, carried from its stage-1 runs to its stage-2 runs.
GROUP_TAGS = (GROUP_TAG, SOURCE_COMMANDS_TAG, SOURCE_COUNT_TAG)
# Command ids listed in SOURCE_COMMANDS_TAG (28 characters each); the count tag tells how many there
# were, so the tag stays under 200 characters however many backfills one tick coalesced.
MAX_LISTED_SOURCES = 5
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class RefreshTarget:
    """Assets refreshed together: same partitions, same backfill policy (so one run can hold them)."""

    keys: tuple[dg.AssetKey, ...]
    partitions_def: dg.PartitionsDefinition | None
    single_run: bool


def group_tags(cmd_ids: Sequence[str]) -> dict[str, str]:
    """Tags naming a refresh group after its first source command (the oldest judged one the tick saw).

    The first command, not a fresh id: a tick that is evaluated again from the same cursor sees the
    same oldest landing first, so its run keys repeat and Dagster drops the repeats; and an operator
    finds the command's gaps with `tds.gaps.backfill_cmd_id` = the tag.
    """
    listed = ",".join(cmd_ids[:MAX_LISTED_SOURCES])
    more = len(cmd_ids) - MAX_LISTED_SOURCES
    return {GROUP_TAG: cmd_ids[0], SOURCE_COMMANDS_TAG: f"{listed},+{more} more" if more > 0 else listed,
            SOURCE_COUNT_TAG: str(len(cmd_ids))}


def tagged_window(tags: Mapping[str, str]) -> dg.TimeWindow:
    """The partitions a refresh run covers, as the time window its tags record."""
    return dg.TimeWindow(datetime.fromisoformat(tags[WINDOW_START_TAG]), datetime.fromisoformat(tags[WINDOW_END_TAG]))


def partition_keys_touching(partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime,
                            end: datetime) -> list[str]:
    """Keys of the existing partitions that overlap [start, end), oldest first."""
    first = partitions_def.time_window_for_partition_key(
        partitions_def.get_partition_key_for_timestamp(start.timestamp())).start
    last = partitions_def.time_window_for_partition_key(
        partitions_def.get_partition_key_for_timestamp((end - _TICK).timestamp())).end
    keys = partitions_def.get_partition_keys_in_time_window(dg.TimeWindow(first, last))
    return [key for key in keys if partitions_def.has_partition_key(key)]


def keys_touching_any(partitions_def: dg.TimeWindowPartitionsDefinition,
                      windows: Sequence[dg.TimeWindow]) -> list[str]:
    """Keys of the partitions any of the windows overlaps, each once, oldest first."""
    keys = {key for window in windows for key in partition_keys_touching(partitions_def, *window)}
    return sorted(keys, key=lambda key: partitions_def.time_window_for_partition_key(key).start)


def contiguous_ranges(partitions_def: dg.TimeWindowPartitionsDefinition, keys: Sequence[str]) -> list[list[str]]:
    """Keys (oldest first) split where one partition does not end where the next starts."""
    ranges: list[list[str]] = []
    previous_end = None
    for key in keys:
        window = partitions_def.time_window_for_partition_key(key)
        if window.start == previous_end:
            ranges[-1].append(key)
        else:
            ranges.append([key])
        previous_end = window.end
    return ranges


def targets(repository: dg.RepositoryDefinition, keys: Sequence[dg.AssetKey]) -> tuple[list[RefreshTarget], list[str]]:
    """The keys present in this code location grouped into targets, and the names of missing ones."""
    groups: dict[tuple[object, bool], list[dg.AssetKey]] = {}
    definitions: dict[tuple[object, bool], dg.PartitionsDefinition | None] = {}
    missing = []
    asset_graph = repository.asset_graph
    for key in keys:
        if not asset_graph.has(key) or not asset_graph.get(key).is_materializable:
            missing.append(key.to_user_string())
            continue
        node = asset_graph.get(key)
        single = node.backfill_policy is not None and node.backfill_policy.max_partitions_per_run is None
        group = (node.partitions_def, single)
        groups.setdefault(group, []).append(key)
        definitions[group] = node.partitions_def
    found = [RefreshTarget(tuple(ks), definitions[group], group[1]) for group, ks in groups.items()]
    return found, missing


def _range_request(target: RefreshTarget, keys: Sequence[str], base: str,
                   tags: Mapping[str, str]) -> dg.RunRequest:
    """One run over contiguous `keys`: a plain partition run for one key, a range run for more."""
    partitions_def = target.partitions_def
    window = dg.TimeWindow(partitions_def.time_window_for_partition_key(keys[0]).start,
                           partitions_def.time_window_for_partition_key(keys[-1]).end)
    window_tags = {**tags, WINDOW_START_TAG: window.start.isoformat(), WINDOW_END_TAG: window.end.isoformat()}
    if len(keys) == 1:
        return dg.RunRequest(run_key=f"{base}:{keys[0]}", asset_selection=list(target.keys), partition_key=keys[0],
                             tags=window_tags)
    return dg.RunRequest(run_key=f"{base}:{keys[0]}..{keys[-1]}", asset_selection=list(target.keys),
                         tags={**window_tags, RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]})


def run_requests(target: RefreshTarget, windows: Sequence[dg.TimeWindow], stage: int, tags: Mapping[str, str],
                 pending: Sequence[dg.TimeWindow] = ()) -> list[dg.RunRequest]:
    """Run requests refreshing `target` over the partitions the windows touch, minus those `pending`
    refreshes of it (runs not started yet) cover; run keys make a repeated request a no-op. An
    unpartitioned target gets one run, pending or not: it has no partitions to leave out.

    The window tags of each request are the span of its partitions, so a later stage and later
    groups read from a run's tags exactly what it refreshes."""
    name = "+".join(key.to_user_string() for key in target.keys)
    base = f"{tags[GROUP_TAG]}:{stage}:{name}"
    partitions_def = target.partitions_def
    if partitions_def is None:
        span = {WINDOW_START_TAG: min(w.start for w in windows).isoformat(),
                WINDOW_END_TAG: max(w.end for w in windows).isoformat()}
        return [dg.RunRequest(run_key=base, asset_selection=list(target.keys), tags={**tags, **span})]
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return []
    covered = set(keys_touching_any(partitions_def, pending))
    keys = [key for key in keys_touching_any(partitions_def, windows) if key not in covered]
    ranges = contiguous_ranges(partitions_def, keys) if target.single_run else [[key] for key in keys]
    return [_range_request(target, block, base, tags) for block in ranges]


def stage_requests(repository: dg.RepositoryDefinition, stage: int, windows: Sequence[dg.TimeWindow],
                   group: Mapping[str, str],
                   pending: Mapping[frozenset[dg.AssetKey], Sequence[dg.TimeWindow]]) -> tuple[list[dg.RunRequest],
                                                                                             list[str]]:
    """Every run request of one stage of a group over its windows, and the asset keys this code
    location does not have; `pending` holds the windows of not-yet-started refreshes per asset set."""
    found, missing = targets(repository, STAGES[stage])
    requests = [request for target in found
                for request in run_requests(target, windows, stage, {**group, **refresh_tags(target, stage)},
                                            pending.get(frozenset(target.keys), ()))]
    return requests, missing


def refresh_tags(target: RefreshTarget, stage: int) -> dict[str, str]:
    """A refresh queues in the lane of the schedule that refreshes the same assets, never in the
    repairs' own: seen under `make up`, refreshes sharing the `backfill` lane's limit of 2 with
    gap_backfill runs that waited minutes for device answers stayed queued for 7+ minutes while
    run slots were free. Behind that lane's schedule runs (repair priority), and one at a time with
    them, which the rollups' advisory lock would impose anyway."""
    return {STAGE_TAG: str(stage), **lane_tags(LANES[target.keys[0]], REPAIR_PRIORITY)}
