"""Sending one gap backfill: mark the gaps requested, record the command, publish it to the device.

A request covers one equipment: one gap, several gaps of it (one command over their union window,
each gap still judged and recorded on its own), or a window an operator chose. Sending never waits
for the device: `answers.py` follows the answer and judges the gaps later, so no caller holds a
run slot (or anything else) while a device takes its time or never answers.

Every state it reaches is written before the next step (the command is on record before it goes
out), so a crash leaves a truthful record; it never writes readings itself (the stream writer
lands them, idempotently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from tds_platform.backfill import store
from tds_platform.backfill.command import CommandError, publish_command
from tds_platform.backfill.plan import (
    Outcome,
    Progress,
    cmd_topic,
    iso,
    new_cmd_id,
    resend_command,
    resend_window,
    union_window,
)
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.backfill.store import Command, Gap
from tds_platform.time_windows import Window


class BackfillRequestError(ValueError):
    """A request that names nothing to backfill (unknown gap or equipment); one sentence."""


@dataclass(frozen=True)
class BackfillRequest:
    """What to ask one equipment for, and the known gaps whose outcome the answer decides."""

    tenant: str
    site: str | None
    equipment: str
    metrics: tuple[str, ...] | None  # None: every metric of the equipment
    window: Window
    series_ids: tuple[int, ...]
    gaps: tuple[Gap, ...] = ()


@dataclass(frozen=True)
class Sent:
    """A request as it left: its command id, or why no command could go out (its gaps are then
    recorded unfillable at once)."""

    cmd_id: str
    request: BackfillRequest
    unsent: str | None = None

    def summary(self) -> str:
        """One line for the run's log and metadata."""
        request = self.request
        metrics = ", ".join(request.metrics) if request.metrics else "all metrics"
        gaps = ", ".join(str(gap.id) for gap in request.gaps) or "-"
        return (f"{self.cmd_id}: {request.tenant}/{request.equipment} ({metrics}) {iso(request.window.start)} to "
                f"{iso(request.window.end)}, gaps {gaps}: "
                f"{self.unsent or 'sent; the backfill_answers sensor judges the answer'}")


def request_for_gaps(engine: Engine, gap_ids: Sequence[int], settings: BackfillSettings,
                     now: datetime) -> BackfillRequest | None:
    """One request for gaps of one equipment: their metrics over the union of their resend windows.

    Gaps that data already cleared are left out (nothing to ask for); None when that is all of them.
    The metrics are named rather than left out (= every metric) so the device resends only series
    that have a gap, exactly as a single gap's request names its one metric."""
    with engine.connect() as conn:
        found = store.gaps(conn, gap_ids)
    if unknown := sorted(set(gap_ids) - {gap.id for gap in found}):
        raise BackfillRequestError(f"there is no gap with id {', '.join(map(str, unknown))} in tds.gaps")
    if len({(gap.tenant, gap.equipment) for gap in found}) > 1:
        raise BackfillRequestError("the gaps belong to more than one equipment; give the gaps of one equipment per run")
    current = tuple(gap for gap in found if gap.cleared_at is None)
    if not current:
        return None
    margin = timedelta(seconds=settings.margin_s)
    window = union_window([resend_window(gap.gap_start, gap.gap_end, now, margin) for gap in current])
    first = current[0]
    return BackfillRequest(first.tenant, first.site, first.equipment, tuple(sorted({gap.metric for gap in current})),
                           window, tuple(sorted({gap.series_id for gap in current})), current)


def request_for_window(engine: Engine, tenant: str, equipment: str, metric: str | None, window: Window,
                       now: datetime) -> BackfillRequest:
    with engine.connect() as conn:
        series_ids, site = store.series(conn, tenant, equipment, metric)
        gaps = store.gaps_in_window(conn, tenant, equipment, metric, window, now)
    if not series_ids:
        named = f"{tenant}/{equipment}" + (f" metric {metric}" if metric else "")
        raise BackfillRequestError(f"no series {named} is registered in tds.metric_spec; check the names")
    return BackfillRequest(tenant, site, equipment, (metric,) if metric else None, window, tuple(series_ids),
                           tuple(gaps))


def send(engine: Engine, mqtt_url: str, request: BackfillRequest, run_id: str | None = None) -> Sent:
    """Record the request (gaps `requested`, the command waiting) and publish its resend command.

    CommandError when the broker did not take the command; its gaps are recorded unfillable first."""
    now = datetime.now(UTC)
    cmd_id = new_cmd_id(now)
    with engine.begin() as conn:
        store.mark_requested(conn, [gap.id for gap in request.gaps], cmd_id, request.window, now)
        if request.site is not None:
            before = store.readings_in_window(conn, request.series_ids, request.window)
            store.add_command(conn, Command(cmd_id, request.tenant, request.equipment, request.window,
                                            request.series_ids, tuple(gap.id for gap in request.gaps), before, now,
                                            Progress(None, before)), run_id)
    if request.site is None:
        return _unsent(engine, Sent(cmd_id, request, "the equipment has no site, so its cmd topic cannot be named"))
    try:
        publish_command(mqtt_url, cmd_topic(request.tenant, request.site, request.equipment),
                        resend_command(cmd_id, request.window, request.metrics, now))
    except CommandError as error:
        _unsent(engine, Sent(cmd_id, request, f"the command could not be sent: {error}"))
        raise
    return Sent(cmd_id, request)


def _unsent(engine: Engine, sent: Sent) -> Sent:
    """Every gap of a request whose command never went out is unfillable, and nothing waits for it."""
    with engine.begin() as conn:
        now = datetime.now(UTC)
        for gap in sent.request.gaps:
            store.record_outcome(conn, gap.id, sent.cmd_id, Outcome.UNFILLABLE, sent.unsent or "", now)
        store.mark_judged(conn, sent.cmd_id, now)
    return sent
