"""Which rollup and quality partitions a backfilled window touches, as Dagster run requests.

Why run requests rather than refreshing inside the backfill run: the rollup and quality assets
keep their own code, checks and lineage, and each refresh shows up in the UI as an ordinary
materialization of the asset and partition it repaired. Order matters (telemetry_1d is built from
telemetry_1h), so stage 1 refreshes the hourly assets and stage 2 the daily one once stage 1 has
succeeded. Assets with a single-run backfill policy get one run over the partition range; others
one run per partition. Pure: it reads only the asset graph and the window, never the database.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

# stage number -> assets refreshed in it; stage 2 waits for every stage-1 run of the same backfill
STAGES: Mapping[int, tuple[dg.AssetKey, ...]] = {
    1: (dg.AssetKey("telemetry_1m"), dg.AssetKey("telemetry_1h"), dg.AssetKey("quality_hourly"),
        dg.AssetKey("gaps")),
    2: (dg.AssetKey("telemetry_1d"),),
}
LAST_STAGE = max(STAGES)

BACKFILL_RUN_TAG = "tds/backfill_run"
STAGE_TAG = "tds/refresh_stage"
WINDOW_START_TAG = "tds/refresh_window_start"
WINDOW_END_TAG = "tds/refresh_window_end"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class RefreshTarget:
    """Assets refreshed together: same partitions, same backfill policy (so one run can hold them)."""

    keys: tuple[dg.AssetKey, ...]
    partitions_def: dg.PartitionsDefinition | None
    single_run: bool


def partition_keys_touching(partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime,
                            end: datetime) -> list[str]:
    """Keys of the existing partitions that overlap [start, end), oldest first."""
    first = partitions_def.time_window_for_partition_key(
        partitions_def.get_partition_key_for_timestamp(start.timestamp())).start
    last = partitions_def.time_window_for_partition_key(
        partitions_def.get_partition_key_for_timestamp((end - _TICK).timestamp())).end
    keys = partitions_def.get_partition_keys_in_time_window(dg.TimeWindow(first, last))
    return [key for key in keys if partitions_def.has_partition_key(key)]


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


def run_requests(target: RefreshTarget, start: datetime, end: datetime, backfill_run_id: str, stage: int,
                 tags: Mapping[str, str]) -> list[dg.RunRequest]:
    """Run requests refreshing `target` over [start, end); run keys make a repeated request a no-op."""
    name = "+".join(key.to_user_string() for key in target.keys)
    base = f"{backfill_run_id}:{stage}:{name}"
    partitions_def = target.partitions_def
    if partitions_def is None:
        return [dg.RunRequest(run_key=base, asset_selection=list(target.keys), tags=dict(tags))]
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return []
    keys = partition_keys_touching(partitions_def, start, end)
    if not keys:
        return []
    if target.single_run and len(keys) > 1:
        range_tags = {**tags, RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
        return [dg.RunRequest(run_key=f"{base}:{keys[0]}..{keys[-1]}", asset_selection=list(target.keys),
                              tags=range_tags)]
    return [dg.RunRequest(run_key=f"{base}:{key}", asset_selection=list(target.keys), partition_key=key,
                          tags=dict(tags)) for key in keys]


def stage_requests(repository: dg.RepositoryDefinition, stage: int, start: datetime, end: datetime,
                   backfill_run_id: str) -> tuple[list[dg.RunRequest], list[str]]:
    """Every run request of one stage, and the asset keys this code location does not have."""
    tags = {BACKFILL_RUN_TAG: backfill_run_id, STAGE_TAG: str(stage), "tds/domain": "backfill",
            "dagster/priority": "-1", WINDOW_START_TAG: start.isoformat(), WINDOW_END_TAG: end.isoformat()}
    found, missing = targets(repository, STAGES[stage])
    requests = [request for target in found
                for request in run_requests(target, start, end, backfill_run_id, stage, tags)]
    return requests, missing
