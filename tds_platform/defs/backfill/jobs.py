"""The `gap_backfill` job: one gap by id (what the sensor launches), or an equipment and window an
operator chooses in the Launchpad.

The op only turns config into a request, runs `tds_platform.backfill` and reports; when readings
landed it records the window as an observation of `telemetry`, which the refresh sensor turns into
rollup and quality re-materializations. It never writes readings or gap boundaries.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from tds_platform.backfill.command import CommandError
from tds_platform.backfill.plan import Window, iso
from tds_platform.backfill.run import (
    Backfill,
    BackfillRequest,
    BackfillRequestError,
    request_for_gap,
    request_for_window,
)
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.resources import CommandBrokerResource
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings

JOB_NAME = "gap_backfill"
OP_NAME = "backfill_gap"
TELEMETRY = dg.AssetKey("telemetry")
WINDOW_START, WINDOW_END = "backfill_window_start", "backfill_window_end"


class GapBackfillConfig(dg.Config):
    """Either `gap_id`, or `tenant` + `equipment` + `window_start` + `window_end` (+ optional `metric`)."""

    gap_id: int | None = Field(default=None, description="a tds.gaps id: resend that gap (with the margin)")
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


def build_request(config: GapBackfillConfig, database: DatabaseResource, settings: BackfillSettings,
                  now: datetime) -> BackfillRequest:
    """BackfillRequestError (one sentence) for config that names nothing, or both a gap and a window."""
    window_fields = (config.tenant, config.equipment, config.window_start, config.window_end)
    if config.gap_id is not None:
        if any(window_fields):
            raise BackfillRequestError("give either gap_id or tenant/equipment/window, not both")
        return request_for_gap(database.engine(), config.gap_id, settings, now)
    if not all(window_fields):
        raise BackfillRequestError("give gap_id, or tenant, equipment, window_start and window_end")
    try:
        window = Window(_instant(config.window_start, "window_start"), _instant(config.window_end, "window_end"))
    except ValueError as error:
        raise BackfillRequestError(str(error)) from None
    return request_for_window(database.engine(), config.tenant, config.equipment, config.metric or None, window, now)


def build_backfill_job(settings: BackfillSettings, quality: QualitySettings) -> dg.JobDefinition:
    @dg.op(name=OP_NAME, description="Ask the equipment to resend the window, follow its answer, judge the gaps.")
    def backfill_gap(context: dg.OpExecutionContext, config: GapBackfillConfig, database: DatabaseResource,
                     command_broker: CommandBrokerResource) -> None:
        try:
            request = build_request(config, database, settings, datetime.now(UTC))
        except BackfillRequestError as error:
            raise dg.Failure(description=str(error)) from None
        cleared = [gap.id for gap in request.gaps if gap.cleared_at is not None]
        if cleared:
            context.log.info(f"gap {cleared[0]} was already cleared by data that arrived; nothing to ask for")
            context.add_output_metadata({"skipped": f"gap {cleared[0]} already cleared"})
            return
        backfill = Backfill(database.engine(), command_broker.resolved_url(), settings, quality.gap_factor)
        try:
            report = backfill.run(request)
        except CommandError as error:
            raise dg.Failure(description=f"the resend command was not sent: {error}") from None
        for gap_id, detail in report.details.items():
            context.log.info(f"gap {gap_id}: {report.outcomes[gap_id].value} — {detail}")
        if report.readings_landed > 0:
            context.log_event(dg.AssetObservation(asset_key=TELEMETRY, metadata={
                WINDOW_START: iso(request.window.start), WINDOW_END: iso(request.window.end),
                "readings_landed": report.readings_landed, "cmd_id": report.cmd_id,
            }))
        context.add_output_metadata(report.metadata())

    # Repairs queue behind the schedules (priority -1) and run two at a time, so a burst of old gaps
    # never starves the rollup and quality refreshes of run slots.
    @dg.job(name=JOB_NAME, tags={"tds/domain": "backfill", "dagster/priority": "-1"},
            description="Repair a gap: ask the equipment to resend it (MQTT cmd), wait for the data, record the "
                        "outcome in tds.gaps. Config: gap_id, or tenant/equipment/[metric]/window_start/window_end.")
    def gap_backfill() -> None:
        backfill_gap()

    return gap_backfill
