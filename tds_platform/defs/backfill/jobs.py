"""The `gap_backfill` job: gaps of one equipment by id (what the sensor launches, one run per batch),
one gap by id, or an equipment and window an operator chooses in the Launchpad.

The op only turns config into a request, sends its one resend command and reports: a run takes a
few seconds and never waits for the device. The backfill_answers sensor follows the answer, judges
each gap, and records the window of readings that landed as an observation of `telemetry`, which
the refresh sensor turns into rollup and quality re-materializations. It never writes readings or
gap boundaries.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from tds_platform.backfill.command import CommandError
from tds_platform.backfill.plan import Window
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

JOB_NAME = "gap_backfill"
OP_NAME = "backfill_gap"


class GapBackfillConfig(dg.Config):
    """`gap_id`, or `gap_ids`, or `tenant` + `equipment` + `window_start` + `window_end` (+ optional `metric`).

    `gap_id` stays beside `gap_ids` because Dagster config has no "one id or a list" type, and one id
    is what an operator types in the Launchpad; the sensor always sends `gap_ids`."""

    gap_id: int | None = Field(default=None, description="a tds.gaps id: resend that gap (with the margin)")
    gap_ids: list[int] | None = Field(
        default=None, description="tds.gaps ids of one equipment: one resend over their union window, each gap judged")
    tenant: str | None = Field(default=None, description="with equipment and a window: resend that window")
    equipment: str | None = None
    metric: str | None = Field(default=None, description="one metric; empty = every metric of the equipment")
    window_start: str | None = Field(default=None, description="ISO 8601, e.g. 2026-11-22T10:00:00Z")
    window_end: str | None = Field(default=None, description="ISO 8601, exclusive")


def _instant(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BackfillRequestError(f"{name} {value!r} is not an ISO 8601 time such as 2026-11-22T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def named_gaps(config: GapBackfillConfig) -> list[int] | None:
    """The gap ids the config names (None: it names a window instead); BackfillRequestError for both
    `gap_id` and `gap_ids`, or an empty list."""
    if config.gap_id is not None and config.gap_ids is not None:
        raise BackfillRequestError("give either gap_id or gap_ids, not both")
    if config.gap_ids is not None and not config.gap_ids:
        raise BackfillRequestError("gap_ids is empty; give at least one tds.gaps id")
    return [config.gap_id] if config.gap_id is not None else config.gap_ids


def build_request(config: GapBackfillConfig, database: DatabaseResource, settings: BackfillSettings,
                  now: datetime) -> BackfillRequest | None:
    """The request the config names; None when every named gap was already cleared by data that
    arrived. BackfillRequestError (one sentence) for config that names nothing, or gaps and a window."""
    window_fields = (config.tenant, config.equipment, config.window_start, config.window_end)
    gap_ids = named_gaps(config)
    if gap_ids is not None:
        if any(window_fields):
            raise BackfillRequestError("give either gap ids or tenant/equipment/window, not both")
        return request_for_gaps(database.engine(), gap_ids, settings, now)
    if not all(window_fields):
        raise BackfillRequestError("give gap_id, gap_ids, or tenant, equipment, window_start and window_end")
    try:
        window = Window(_instant(config.window_start, "window_start"), _instant(config.window_end, "window_end"))
    except ValueError as error:
        raise BackfillRequestError(str(error)) from None
    return request_for_window(database.engine(), config.tenant, config.equipment, config.metric or None, window, now)


def cleared_gaps(config: GapBackfillConfig, request: BackfillRequest | None) -> list[int]:
    """The gaps the config names that the request leaves out because data already cleared them."""
    asked = {gap.id for gap in request.gaps} if request is not None else set()
    return sorted(set(named_gaps(config) or ()) - asked)


def build_backfill_job(settings: BackfillSettings) -> dg.JobDefinition:
    @dg.op(name=OP_NAME, description="Ask the equipment once to resend the window; the backfill_answers sensor "
                                     "judges its answer.")
    def backfill_gap(context: dg.OpExecutionContext, config: GapBackfillConfig, database: DatabaseResource,
                     command_broker: CommandBrokerResource) -> None:
        try:
            request = build_request(config, database, settings, datetime.now(UTC))
        except BackfillRequestError as error:
            raise dg.Failure(description=str(error)) from None
        cleared = cleared_gaps(config, request)
        if cleared:
            context.log.info(f"gaps {cleared} were already cleared by data that arrived; not asked for")
        if request is None:
            context.add_output_metadata({"skipped": f"gaps {cleared} already cleared"})
            return
        try:
            sent = send(database.engine(), command_broker.resolved_url(), request, context.run_id)
        except CommandError as error:
            raise dg.Failure(description=f"the resend command was not sent: {error}") from None
        context.log.info(f"command {sent.cmd_id}: {sent.metadata()['status']}")
        context.add_output_metadata(sent.metadata())

    # A run only sends (seconds), so repairs need one run slot at most; they yield to the schedules.
    @dg.job(name=JOB_NAME, tags=lane_tags(Lane.BACKFILL, REPAIR_PRIORITY),
            description="Repair gaps of one equipment: ask it once to resend them (MQTT cmd); the backfill_answers "
                        "sensor waits for the data and records each gap's outcome in tds.gaps. Config: gap_id, "
                        "gap_ids (one equipment), or tenant/equipment/[metric]/window_start/window_end.")
    def gap_backfill() -> None:
        backfill_gap()

    return gap_backfill
