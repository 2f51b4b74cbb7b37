"""The `gap_backfill` job: batches of gaps by id (what the sensor launches, one run per tick, one
command per equipment's batch), gaps of one equipment or one gap by id, or an equipment and window
an operator chooses in the Launchpad.

The op only turns config into requests, sends their resend commands and reports: a run takes a
few seconds and never waits for a device. The backfill_answers sensor follows the answer, judges
each gap, and records the window of readings that landed as an observation of `telemetry`, which
the refresh sensor turns into rollup and quality re-materializations. It never writes readings or
gap boundaries.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from tds_platform.backfill.command import CommandError
from tds_platform.backfill.run import (
    BackfillRequest,
    BackfillRequestError,
    request_for_gaps,
    request_for_window,
    send,
)
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.resources import CommandBrokerResource
from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.run_queue import REPAIR_PRIORITY, Lane, lane_tags
from tds_platform.time_windows import Window, parse_instant

JOB_NAME = "gap_backfill"
OP_NAME = "backfill_gap"


class GapBackfillConfig(dg.Config):
    """`batches`, `gap_ids` or `gap_id`, or `tenant` + `equipment` + `window_start` + `window_end`
    (+ optional `metric`).

    The new-gap sensor sends `batches`: every batch of one tick in one run, one command per batch,
    because a run costs seconds of process start-up on the 2-core machines and sending costs none.
    `gap_ids` (one batch) and `gap_id` (one gap) are what an operator types in the Launchpad; Dagster
    config has no "one id or a list" type."""

    batches: list[list[int]] | None = Field(
        default=None, description="lists of tds.gaps ids, each of one equipment: one resend command per list")
    gap_ids: list[int] | None = Field(
        default=None, description="tds.gaps ids of one equipment: one resend over their union window, each gap judged")
    gap_id: int | None = Field(default=None, description="a tds.gaps id: resend that gap (with the margin)")
    tenant: str | None = Field(default=None, description="with equipment and a window: resend that window")
    equipment: str | None = None
    metric: str | None = Field(default=None, description="one metric; empty = every metric of the equipment")
    window_start: str | None = Field(default=None, description="ISO 8601, UTC unless it names a zone, "
                                                                 "e.g. 2026-11-22T10:00:00Z")
    window_end: str | None = Field(default=None, description="ISO 8601, exclusive")


def named_batches(config: GapBackfillConfig) -> list[list[int]] | None:
    """The batches of gap ids the config names (None: it names a window instead); BackfillRequestError
    when it names gaps more than one way, or names none."""
    forms = {"batches": config.batches, "gap_ids": None if config.gap_ids is None else [config.gap_ids],
             "gap_id": None if config.gap_id is None else [[config.gap_id]]}
    given = {name: batches for name, batches in forms.items() if batches is not None}
    if len(given) > 1:
        raise BackfillRequestError(f"give only one of {' and '.join(given)}")
    for name, batches in given.items():
        if not batches or not all(batches):
            raise BackfillRequestError(f"{name} names no gap; give at least one tds.gaps id")
        return batches
    return None


def build_requests(config: GapBackfillConfig, database: DatabaseResource, settings: BackfillSettings,
                   now: datetime) -> list[tuple[list[int], BackfillRequest | None]]:
    """(gap ids, request) for each command the config names, before anything is sent; a request is
    None when every gap of its batch was already cleared by data that arrived. BackfillRequestError
    (one sentence) for config that names nothing, or gaps and a window."""
    window_fields = (config.tenant, config.equipment, config.window_start, config.window_end)
    batches = named_batches(config)
    if batches is not None:
        if any(window_fields):
            raise BackfillRequestError("give either gap ids or tenant/equipment/window, not both")
        return [(batch, request_for_gaps(database.engine(), batch, settings, now)) for batch in batches]
    if not all(window_fields):
        raise BackfillRequestError("give batches, gap_ids, gap_id, or tenant, equipment, window_start and window_end")
    try:
        window = Window(parse_instant(config.window_start, "window_start"),
                        parse_instant(config.window_end, "window_end"))
    except ValueError as error:
        raise BackfillRequestError(str(error)) from None
    return [([], request_for_window(database.engine(), config.tenant, config.equipment, config.metric or None, window,
                                    now))]


def cleared_gaps(batch: list[int], request: BackfillRequest | None) -> list[int]:
    """The gaps of a batch that its request leaves out because data already cleared them."""
    asked = {gap.id for gap in request.gaps} if request is not None else set()
    return sorted(set(batch) - asked)


def build_backfill_job(settings: BackfillSettings) -> dg.JobDefinition:
    @dg.op(name=OP_NAME, description="Ask each equipment once to resend its window; the backfill_answers sensor "
                                     "judges the answers.")
    def backfill_gap(context: dg.OpExecutionContext, config: GapBackfillConfig, database: DatabaseResource,
                     command_broker: CommandBrokerResource) -> None:
        try:
            requests = build_requests(config, database, settings, datetime.now(UTC))
        except BackfillRequestError as error:
            raise dg.Failure(description=str(error)) from None
        sent, unsent = [], []
        for batch, request in requests:
            if cleared := cleared_gaps(batch, request):
                context.log.info(f"gaps {cleared} were already cleared by data that arrived; not asked for")
            if request is None:
                continue
            try:
                sent.append(send(database.engine(), command_broker.url, request, context.run_id))
            except CommandError as error:
                unsent.append(str(error))
        for command in sent:
            context.log.info(command.summary())
        context.add_output_metadata({"commands_sent": len(sent), "commands_not_sent": len(unsent),
                                     "commands": "\n".join(command.summary() for command in sent) or "-"})
        if unsent:
            raise dg.Failure(description=f"{len(unsent)} of {len(sent) + len(unsent)} resend commands were not "
                                         f"sent (their gaps are recorded unfillable): {unsent[0]}")

    # A run only sends (seconds), so repairs need one run slot at most; they yield to the schedules.
    @dg.job(name=JOB_NAME, tags=lane_tags(Lane.BACKFILL, REPAIR_PRIORITY),
            description="Repair gaps: ask each equipment once to resend them (MQTT cmd); the backfill_answers sensor "
                        "waits for the data and records each gap's outcome in tds.gaps. Config: batches (the "
                        "sensor's), gap_ids (one equipment), gap_id, or tenant/equipment/[metric]/window_start/"
                        "window_end.")
    def gap_backfill() -> None:
        backfill_gap()

    return gap_backfill
