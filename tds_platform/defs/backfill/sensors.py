"""The backfill sensors: new gaps -> `gap_backfill` runs, device answers -> each gap's outcome, and
landed readings -> rollup/quality refreshes.

Built by small factories from BackfillSettings so tests pass their own. The new-gap sensor asks
for each gap once, batching the close-together gaps of one equipment into one command and a tick's
commands into one run (run key from its gap ids, plus a cursor of requested gaps whose run has not
started). The answers
sensor follows the commands those runs sent, so no run waits for a device: it records each gap's
outcome and reports the window where readings landed as an observation of `telemetry`. The
refresh sensor coalesces every such landing since its last tick into one group of refreshes, only
requests runs of assets defined elsewhere and never writes data itself.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.backfill import store
from tds_platform.backfill.answers import AnswerJudge, Verdict
from tds_platform.backfill.plan import batch_gaps, iso
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.jobs import OP_NAME, GapBackfillConfig
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

# Which gaps a gap_backfill run covers, for filtering and reading in the UI (the full lists are in
# its run config): the gap ids (the first few, for a large run), how many, and whose they are.
GAP_IDS_TAG, GAP_COUNT_TAG, COMMAND_COUNT_TAG = "tds/gap_ids", "tds/gap_count", "tds/command_count"
TENANT_TAG, EQUIPMENT_TAG = "tds/tenant", "tds/equipment"
# Run keys and tags are indexed by Dagster's run storage; past this length a list of ids is shortened.
MAX_LISTED_CHARS = 120
# The backfill_answers sensor reports where resent readings landed as observations of telemetry
# with these metadata keys; the refresh sensor reads them back (a contract between the two).
TELEMETRY = dg.AssetKey("telemetry")
WINDOW_START, WINDOW_END, CMD_ID = "backfill_window_start", "backfill_window_end", "cmd_id"
# On its first tick the refresh sensor looks this far back for finished runs and landings.
FIRST_LOOK_BACK = timedelta(hours=1)
# Landings one refresh tick reads; more wait for the next tick (they stay in the event log).
LANDINGS_PER_TICK = 500
# Submitted runs that have not begun executing: whatever landed before now is there when they read.
# Not NOT_STARTED: such a run may never have been submitted (a tick that failed half-way), and only
# requesting its run key again makes the daemon submit it.
PENDING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING]


def batch_run_key(gap_ids: Sequence[int]) -> str:
    """Deterministic and unique per set of gaps: `gap-<id>` for one (the key single-gap runs always
    had), `gaps-<id>-<id>...` for several, and for too many to list their first and last id, count
    and a digest of all ids. A gap is requested by one tick only, so no two runs share a key."""
    ids = sorted(gap_ids)
    if len(ids) == 1:
        return f"gap-{ids[0]}"
    listed = "gaps-" + "-".join(map(str, ids))
    if len(listed) <= MAX_LISTED_CHARS:
        return listed
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    return f"gaps-{ids[0]}-to-{ids[-1]}-n{len(ids)}-{digest}"


def listed(values: Sequence[str]) -> str:
    """The values comma-separated, or as many as fit and `+<n> more`."""
    shown = list(values)
    while len(",".join(shown)) > MAX_LISTED_CHARS:
        shown = shown[:-1]
    return ",".join(shown) + (f",+{len(values) - len(shown)} more" if len(shown) < len(values) else "")


def gap_run_request(batches: Sequence[Sequence[int]], owners: Mapping[int, tuple[str, str]]) -> dg.RunRequest:
    """One gap_backfill run for a tick's batches (each of one equipment's gaps: one command each);
    `owners` maps a gap id to its (tenant, equipment)."""
    ids = sorted(gap_id for batch in batches for gap_id in batch)
    config = dg.RunConfig(ops={OP_NAME: GapBackfillConfig(batches=[list(batch) for batch in batches])})
    whose = [owners[batch[0]] for batch in batches]
    tags = {GAP_IDS_TAG: listed([str(gap_id) for gap_id in ids]), GAP_COUNT_TAG: str(len(ids)),
            COMMAND_COUNT_TAG: str(len(batches)), TENANT_TAG: listed(sorted({tenant for tenant, _ in whose})),
            EQUIPMENT_TAG: listed(sorted({equipment for _, equipment in whose}))}
    return dg.RunRequest(run_key=batch_run_key(ids), run_config=config, tags=tags)


def build_new_gap_sensor(job: dg.JobDefinition, settings: BackfillSettings) -> dg.SensorDefinition:
    """One run per tick however many equipments it asks: sending takes milliseconds, a run's process
    start-up ~20 s of a busy 2-core machine. TDS_BACKFILL_MAX_REQUESTS_PER_TICK counts commands, not
    gaps: counting gaps could split one equipment's batch over two ticks (two commands for one window)."""
    margin, slack = timedelta(seconds=settings.margin_s), timedelta(seconds=settings.batch_slack_s)

    @dg.sensor(name="new_gap_backfills", job=job, minimum_interval_seconds=settings.sensor_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Launch gap_backfill for new gaps: closed ones at once, open ones once their silence has "
                           "lasted TDS_BACKFILL_OPEN_GAP_MIN_AGE_S; one command per equipment for its gaps that lie "
                           "within TDS_BACKFILL_BATCH_SLACK_S of each other; at most "
                           "TDS_BACKFILL_MAX_REQUESTS_PER_TICK commands, all in one run.")
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
        owners = {span.id: (span.tenant, span.equipment) for span in spans}
        return dg.SensorResult(run_requests=[gap_run_request(batches, owners)], cursor=cursor)

    return new_gap_backfills


def build_answer_sensor(settings: BackfillSettings, gap_factor: float) -> dg.SensorDefinition:
    """A sensor rather than a waiting run: a device may take minutes to answer or never answer, and a
    run that waits holds a run slot the schedules need (seen under `make up`: 17 repairs queued
    behind 2 waiting ones). Each tick is a few queries per waiting command.

    Outcomes are committed before the tick returns its observations: a tick that dies in between
    loses the observation, not the outcome, and the refresh schedules' trailing windows still
    rewrite the recent hours the landing touched."""

    @dg.sensor(name="backfill_answers", minimum_interval_seconds=settings.answer_check_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Follow the resend commands gap_backfill runs sent: once a device's answer is complete (or "
                           "TDS_BACKFILL_ANSWER_TIMEOUT_S passed) and its readings landed, record each gap's outcome "
                           "in tds.gaps and report the landed window as an observation of telemetry.")
    def backfill_answers(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult:
        verdicts = AnswerJudge(database.engine(), settings, gap_factor).look(datetime.now(UTC))
        for verdict in verdicts:
            for gap_id, detail in verdict.details.items():
                context.log.info(f"gap {gap_id}: {verdict.outcomes[gap_id].value} — {detail}")
        landings = [landing(verdict) for verdict in verdicts if verdict.readings_landed > 0]
        if not landings:
            reason = f"judged {len(verdicts)} commands, no readings landed" if verdicts else "no answer to judge yet"
            return dg.SensorResult(skip_reason=dg.SkipReason(reason))
        return dg.SensorResult(asset_events=landings)

    return backfill_answers


def landing(verdict: Verdict) -> dg.AssetObservation:
    """Where a command's resent readings landed (for a batch, the union window its one command asked for)."""
    return dg.AssetObservation(asset_key=TELEMETRY, metadata={
        WINDOW_START: iso(verdict.window.start), WINDOW_END: iso(verdict.window.end), CMD_ID: verdict.cmd_id,
        "readings_landed": verdict.readings_landed, "tenant": verdict.tenant, "equipment": verdict.equipment,
        "device_answer": verdict.answer or "none",
        "gaps": ", ".join(f"{gap_id}={outcome.value}" for gap_id, outcome in verdict.outcomes.items()) or "-",
    })


def landed_window(observation: dg.AssetObservation) -> tuple[str, dg.TimeWindow] | None:
    """The command and window of a landing observation; None for the other observations of telemetry."""
    metadata = observation.metadata
    if observation.asset_key != TELEMETRY or WINDOW_START not in metadata:
        return None
    return metadata[CMD_ID].value, dg.TimeWindow(datetime.fromisoformat(metadata[WINDOW_START].value),
                                                 datetime.fromisoformat(metadata[WINDOW_END].value))


@dataclass(frozen=True)
class RefreshCursor:
    """Where the refresh sensor stopped: the newest finished run it saw, and the last landing it read
    (before it read any: landings since its first tick's look-back)."""

    runs_updated_after: datetime
    landings_since: datetime
    landing_storage_id: int | None = None

    @classmethod
    def parse(cls, cursor: str | None, now: datetime) -> "RefreshCursor":
        """A missing or unreadable cursor starts as a first tick does: FIRST_LOOK_BACK into the past."""
        try:
            data = json.loads(cursor) if cursor else None
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            return cls(now - FIRST_LOOK_BACK, now - FIRST_LOOK_BACK)
        return cls(datetime.fromisoformat(data["runs_updated_after"]), datetime.fromisoformat(data["landings_since"]),
                   data["landing_storage_id"])

    def dumps(self) -> str:
        return json.dumps({"runs_updated_after": self.runs_updated_after.isoformat(),
                           "landings_since": self.landings_since.isoformat(),
                           "landing_storage_id": self.landing_storage_id})


def landings_after(instance: dg.DagsterInstance, cursor: RefreshCursor) -> tuple[list[tuple[str, dg.TimeWindow]],
                                                                                   int | None]:
    """(command, window) of every landing reported after the cursor, oldest first, and the storage id
    of the last observation read."""
    if cursor.landing_storage_id is None:
        records_filter = dg.AssetRecordsFilter(TELEMETRY, after_timestamp=cursor.landings_since.timestamp())
    else:
        records_filter = dg.AssetRecordsFilter(TELEMETRY, after_storage_id=cursor.landing_storage_id)
    records = instance.fetch_observations(records_filter, limit=LANDINGS_PER_TICK, ascending=True).records
    landed = [found for record in records if (observation := record.event_log_entry.asset_observation) is not None
              and (found := landed_window(observation)) is not None]
    return landed, records[-1].storage_id if records else cursor.landing_storage_id


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
                 landed: list[tuple[str, dg.TimeWindow]]) -> list[dg.RunRequest]:
    """Stage 1 for every landing since the last tick, as one group: ten repairs judged within a tick
    mostly touch the same current hours, and each run costs seconds to start."""
    if not landed:
        return []
    group = group_tags([cmd_id for cmd_id, _ in landed])
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
                     landed: list[tuple[str, dg.TimeWindow]], runs: list[dg.DagsterRun]) -> list[dg.RunRequest]:
    """What the landings and the finished runs call for: one stage 1 for all the landings, and the
    next stage of each group whose runs of a stage have all succeeded; run keys make requests seen
    on two ticks one run."""
    finished_stages = {(run.tags[GROUP_TAG], run.tags[STAGE_TAG]): run for run in runs if GROUP_TAG in run.tags}
    requests = _first_stage(instance, repository, landed)
    for run in finished_stages.values():
        requests += _next_stage(instance, repository, run)
    return requests


def build_refresh_sensor(minimum_interval_s: int = 30) -> dg.SensorDefinition:
    """A polling sensor over landings and finished runs rather than a run_status_sensor: a run status
    sensor can only request jobs, and no single asset job can hold hourly and daily partitioned
    assets, while a sensor with an asset selection may request any subset of it (one partitions
    definition per run). Polling also lets one tick coalesce every landing since the last one."""
    refreshed = dg.AssetSelection.assets(*(key for keys in STAGES.values() for key in keys))

    @dg.sensor(name="backfill_refresh", asset_selection=refreshed, minimum_interval_seconds=minimum_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="After gap backfills landed readings: re-materialize the rollup and quality partitions "
                           "their windows touch, once per tick for all landings since the last tick (hourly assets "
                           "first, telemetry_1d once all of them succeeded); partitions whose refresh is still queued "
                           "are not asked for again.")
    def backfill_refresh(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = RefreshCursor.parse(context.cursor, datetime.now(UTC))
        landed, landing_storage_id = landings_after(context.instance, cursor)
        filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS], updated_after=cursor.runs_updated_after)
        records = context.instance.get_run_records(filters=filters, order_by="update_timestamp", ascending=True)
        runs_updated_after = max((record.update_timestamp for record in records), default=cursor.runs_updated_after)
        moved = RefreshCursor(runs_updated_after, cursor.landings_since, landing_storage_id).dumps()
        if not landed and not records:
            return dg.SensorResult(skip_reason=dg.SkipReason("no landing and no finished refresh run"), cursor=moved)
        requests = refresh_requests(context.instance, context.repository_def, landed,
                                    [record.dagster_run for record in records])
        if not requests:
            return dg.SensorResult(skip_reason=dg.SkipReason("nothing to refresh"), cursor=moved)
        return dg.SensorResult(run_requests=requests, cursor=moved)

    return backfill_refresh
