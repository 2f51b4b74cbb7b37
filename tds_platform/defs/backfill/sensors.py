"""The backfill sensors: new gaps -> `gap_backfill` runs, and finished backfills -> rollup/quality refreshes.

Built by small factories from BackfillSettings so tests pass their own. The new-gap sensor asks
for each gap once, batching the close-together gaps of one equipment into one run (run key from
the batch's gap ids, plus a cursor of requested gaps whose run has not started); the refresh
sensor coalesces every backfill that finished since its last tick into one group of refreshes,
only requests runs of assets defined elsewhere and never writes data itself.
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.backfill import store
from tds_platform.backfill.plan import batch_gaps
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.jobs import JOB_NAME, OP_NAME, TELEMETRY, WINDOW_END, WINDOW_START, GapBackfillConfig
from tds_platform.defs.backfill.refresh import (
    GROUP_TAG,
    GROUP_TAGS,
    LAST_STAGE,
    STAGE_TAG,
    STAGES,
    group_tags,
    stage_requests,
    tagged_window,
)
from tds_platform.defs.resources import DatabaseResource

# Which gaps a gap_backfill run covers, for filtering and reading in the UI (the full list is in its
# run config): the ids (the first few, for a large batch), how many, and whose they are.
GAP_IDS_TAG, GAP_COUNT_TAG = "tds/gap_ids", "tds/gap_count"
TENANT_TAG, EQUIPMENT_TAG = "tds/tenant", "tds/equipment"
# Run keys and tags are indexed by Dagster's run storage; past this length a list of ids is shortened.
MAX_LISTED_CHARS = 120
# On its first tick the refresh sensor looks this far back for finished runs.
FIRST_LOOK_BACK = timedelta(hours=1)
# Submitted runs that have not begun executing: whatever landed before now is there when they read.
# Not NOT_STARTED: such a run may never have been submitted (a tick that failed half-way), and only
# requesting its run key again makes the daemon submit it.
PENDING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING]


def batch_run_key(gap_ids: Sequence[int]) -> str:
    """Deterministic and unique per set of gaps: `gap-<id>` for one (the key single-gap runs always
    had), `gaps-<id>-<id>...` for a batch, and for a batch too long to list its first and last id,
    count and a digest of all ids. A gap is in one batch only, so no two batches share a key."""
    ids = sorted(gap_ids)
    if len(ids) == 1:
        return f"gap-{ids[0]}"
    listed = "gaps-" + "-".join(map(str, ids))
    if len(listed) <= MAX_LISTED_CHARS:
        return listed
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    return f"gaps-{ids[0]}-to-{ids[-1]}-n{len(ids)}-{digest}"


def listed_ids(gap_ids: Sequence[int]) -> str:
    """The ids comma-separated, or as many as fit and `+<n> more`."""
    ids = [str(gap_id) for gap_id in sorted(gap_ids)]
    shown = ids
    while len(",".join(shown)) > MAX_LISTED_CHARS:
        shown = shown[:-1]
    return ",".join(shown) + (f",+{len(ids) - len(shown)} more" if len(shown) < len(ids) else "")


def gap_run_request(gap_ids: Sequence[int], tenant: str, equipment: str) -> dg.RunRequest:
    """One gap_backfill run for a batch of one equipment's gaps."""
    config = dg.RunConfig(ops={OP_NAME: GapBackfillConfig(gap_ids=list(gap_ids))})
    tags = {GAP_IDS_TAG: listed_ids(gap_ids), GAP_COUNT_TAG: str(len(gap_ids)), TENANT_TAG: tenant,
            EQUIPMENT_TAG: equipment}
    return dg.RunRequest(run_key=batch_run_key(gap_ids), run_config=config, tags=tags)


def build_new_gap_sensor(job: dg.JobDefinition, settings: BackfillSettings) -> dg.SensorDefinition:
    """TDS_BACKFILL_MAX_REQUESTS_PER_TICK counts runs, not gaps: a run is what takes a run slot and
    seconds to start, and counting gaps could split one equipment's batch over two ticks (two
    commands for one window)."""
    margin, slack = timedelta(seconds=settings.margin_s), timedelta(seconds=settings.batch_slack_s)

    @dg.sensor(name="new_gap_backfills", job=job, minimum_interval_seconds=settings.sensor_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Launch gap_backfill for new gaps: closed ones at once, open ones once their silence has "
                           "lasted TDS_BACKFILL_OPEN_GAP_MIN_AGE_S; one run per equipment for its gaps that lie within "
                           "TDS_BACKFILL_BATCH_SLACK_S of each other; at most TDS_BACKFILL_MAX_REQUESTS_PER_TICK runs.")
    def new_gap_backfills(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult:
        now = datetime.now(UTC)
        since = now - timedelta(days=settings.lookback_days)
        earlier = json.loads(context.cursor) if context.cursor else []
        with database.engine().connect() as conn:
            waiting = store.waiting_gaps(conn, earlier, since) if earlier else []
            spans = store.requestable_gaps(conn, since, now - timedelta(seconds=settings.open_gap_min_age_s),
                                           settings.max_requests_per_tick, waiting)
        batches = batch_gaps(spans, now, margin, slack)[:settings.max_requests_per_tick]
        new = [gap_id for batch in batches for gap_id in batch]
        cursor = json.dumps(sorted(set(waiting) | set(new)))
        if not batches:
            return dg.SensorResult(skip_reason=dg.SkipReason("no new gap to backfill"), cursor=cursor)
        context.log.info(f"requesting backfills for gaps {[list(batch) for batch in batches]}")
        owner = {span.id: (span.tenant, span.equipment) for span in spans}
        return dg.SensorResult(run_requests=[gap_run_request(batch, *owner[batch[0]]) for batch in batches],
                               cursor=cursor)

    return new_gap_backfills


def landed_window(instance: dg.DagsterInstance, run_id: str) -> dg.TimeWindow | None:
    """The window a gap_backfill run reported readings landing in (its observation of `telemetry`)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION).records
    for record in records:
        observation = record.event_log_entry.asset_observation
        if observation is not None and observation.asset_key == TELEMETRY and WINDOW_START in observation.metadata:
            return dg.TimeWindow(datetime.fromisoformat(observation.metadata[WINDOW_START].value),
                                 datetime.fromisoformat(observation.metadata[WINDOW_END].value))
    return None


def pending_refreshes(instance: dg.DagsterInstance, stage: int) -> dict[frozenset[dg.AssetKey], list[dg.TimeWindow]]:
    """Windows of the refresh runs of `stage` that have not started executing, per asset set.

    Such a run reads the tables only after this tick, so it already covers anything that landed (or
    was refreshed) before the tick: asking for its partitions again would only queue a twin. A run
    that has started may have read before the landing, so its partitions are asked for again. Only
    runs of a group count: theirs are the window tags that say exactly which partitions they refresh,
    and their group has its own next stage to follow them.
    """
    filters = dg.RunsFilter(statuses=PENDING, tags={STAGE_TAG: str(stage)})
    pending: dict[frozenset[dg.AssetKey], list[dg.TimeWindow]] = {}
    for run in instance.get_runs(filters=filters):
        if GROUP_TAG in run.tags and run.asset_selection:
            pending.setdefault(frozenset(run.asset_selection), []).append(tagged_window(run.tags))
    return pending


def _first_stage(instance: dg.DagsterInstance, repository: dg.RepositoryDefinition,
                 runs: list[dg.DagsterRun]) -> list[dg.RunRequest]:
    """Stage 1 for every gap_backfill run among `runs` that landed readings, as one group: ten repairs
    finishing within a tick mostly touch the same current hours, and each run costs seconds to start."""
    landed = [(run.run_id, window) for run in runs if run.job_name == JOB_NAME
              and (window := landed_window(instance, run.run_id)) is not None]
    if not landed:
        return []
    group = group_tags([run_id for run_id, _ in landed])
    return stage_requests(repository, 1, [window for _, window in landed], group, pending_refreshes(instance, 1))[0]


def _next_stage(instance: dg.DagsterInstance, repository: dg.RepositoryDefinition,
                run: dg.DagsterRun) -> list[dg.RunRequest]:
    """After a refresh run of stage n succeeded: stage n+1 over what the group's stage-n runs
    refreshed, once every one of them has succeeded."""
    group, stage = run.tags[GROUP_TAG], int(run.tags[STAGE_TAG])
    if stage >= LAST_STAGE:
        return []
    siblings = instance.get_runs(filters=dg.RunsFilter(tags={GROUP_TAG: group, STAGE_TAG: str(stage)}))
    if any(sibling.status != dg.DagsterRunStatus.SUCCESS for sibling in siblings):
        return []
    windows = [tagged_window(sibling.tags) for sibling in siblings]
    tags = {tag: run.tags[tag] for tag in GROUP_TAGS}
    return stage_requests(repository, stage + 1, windows, tags, pending_refreshes(instance, stage + 1))[0]


def refresh_requests(instance: dg.DagsterInstance, repository: dg.RepositoryDefinition,
                     runs: list[dg.DagsterRun]) -> list[dg.RunRequest]:
    """What the finished runs call for: one stage 1 for all the backfills that landed readings, and
    the next stage of each group whose runs of a stage have all succeeded; run keys make requests
    seen on two ticks one run."""
    finished_stages = {(run.tags[GROUP_TAG], run.tags[STAGE_TAG]): run for run in runs if GROUP_TAG in run.tags}
    requests = _first_stage(instance, repository, runs)
    for run in finished_stages.values():
        requests += _next_stage(instance, repository, run)
    return requests


def build_refresh_sensor(minimum_interval_s: int = 30) -> dg.SensorDefinition:
    """A polling sensor over finished runs rather than a run_status_sensor: a run status sensor can
    only request jobs, and no single asset job can hold hourly and daily partitioned assets, while a
    sensor with an asset selection may request any subset of it (one partitions definition per run).
    Polling also lets one tick coalesce every backfill that finished since the last one."""
    refreshed = dg.AssetSelection.assets(*(key for keys in STAGES.values() for key in keys))

    @dg.sensor(name="backfill_refresh", asset_selection=refreshed, minimum_interval_seconds=minimum_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="After gap_backfill runs landed readings: re-materialize the rollup and quality partitions "
                           "their windows touch, once per tick for all backfills that finished since the last tick "
                           "(hourly assets first, telemetry_1d once all of them succeeded); partitions whose refresh "
                           "is still queued are not asked for again.")
    def backfill_refresh(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        since = datetime.fromisoformat(context.cursor) if context.cursor else datetime.now(UTC) - FIRST_LOOK_BACK
        filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS], updated_after=since)
        records = context.instance.get_run_records(filters=filters, order_by="update_timestamp", ascending=True)
        if not records:
            return dg.SensorResult(skip_reason=dg.SkipReason("no finished backfill or refresh run"))
        runs = [record.dagster_run for record in records]
        requests = refresh_requests(context.instance, context.repository_def, runs)
        cursor = max(record.update_timestamp for record in records).isoformat()
        if not requests:
            return dg.SensorResult(skip_reason=dg.SkipReason("nothing to refresh"), cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return backfill_refresh
