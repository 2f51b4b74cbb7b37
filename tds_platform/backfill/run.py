"""One gap backfill from request to outcome: mark requested, publish one resend command, follow the
device's answer in tds.cmd_ack, wait for the resent readings to land, judge each gap and record it.

A request covers one equipment: one gap, several gaps of it (one command over their union window,
each gap still judged and recorded on its own), or a window an operator chose.

Every state it reaches is written to tds.gaps before the next step, so a crash leaves a truthful
record; it never writes readings itself (the stream writer lands them, idempotently).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from tds_platform.backfill import store
from tds_platform.backfill.command import CommandError, publish_command
from tds_platform.backfill.plan import (
    FINAL_ANSWERS,
    GapJudgement,
    Outcome,
    Window,
    cmd_topic,
    decide,
    describe,
    iso,
    new_cmd_id,
    resend_command,
    resend_window,
    union_window,
)
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.backfill.store import Gap


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


@dataclass
class BackfillReport:
    cmd_id: str
    request: BackfillRequest
    answer: str | None = None  # the newest status the device sent (accepted, done...)
    answer_detail: str | None = None
    readings_before: int = 0
    readings_after: int = 0
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    details: dict[int, str] = field(default_factory=dict)

    @property
    def final_answer(self) -> str | None:
        """done / partial / error, or None when the device never finished answering (a timeout)."""
        return self.answer if self.answer in FINAL_ANSWERS else None

    @property
    def readings_landed(self) -> int:
        """Readings of the requested series in the window that were not there before the request."""
        return self.readings_after - self.readings_before

    def metadata(self) -> dict[str, str | int]:
        request = self.request
        return {
            "cmd_id": self.cmd_id, "tenant": request.tenant, "equipment": request.equipment,
            "metrics": ", ".join(request.metrics) if request.metrics else "(all)",
            "window_start": iso(request.window.start),
            "window_end": iso(request.window.end), "device_answer": self.answer or "none",
            "readings_landed": self.readings_landed,
            "gaps": ", ".join(f"{gap_id}={outcome.value}" for gap_id, outcome in self.outcomes.items()) or "-",
        }


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


class Backfill:
    """Runs one request; `sleep` and `monotonic` are injectable only so waiting stays testable."""

    def __init__(self, engine: Engine, mqtt_url: str, settings: BackfillSettings, gap_factor: float,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.mqtt_url = mqtt_url
        self.settings = settings
        self.gap_factor = gap_factor
        self.sleep = sleep
        self.monotonic = monotonic

    def run(self, request: BackfillRequest) -> BackfillReport:
        now = datetime.now(UTC)
        report = BackfillReport(new_cmd_id(now), request)
        with self.engine.begin() as conn:
            store.mark_requested(conn, [gap.id for gap in request.gaps], report.cmd_id, request.window, now)
            report.readings_before = report.readings_after = store.readings_in_window(
                conn, request.series_ids, request.window)
        if request.site is None:
            self._finish_unanswered(report, "the equipment has no site, so its cmd topic cannot be named")
            return report
        try:
            publish_command(self.mqtt_url, cmd_topic(request.tenant, request.site, request.equipment),
                            resend_command(report.cmd_id, request.window, request.metrics, now))
        except CommandError as error:
            self._finish_unanswered(report, f"the command could not be sent: {error}")
            raise
        self._follow(report)
        self._record(report)
        return report

    def _follow(self, report: BackfillReport) -> None:
        """Wait for the device's final answer, then for its readings to stop landing (they may reach
        the database after the answer when several writers share the load)."""
        request = report.request
        deadline = self.monotonic() + self.settings.answer_timeout_s
        while True:
            with self.engine.connect() as conn:
                answered = store.answer(conn, request.tenant, request.equipment, report.cmd_id)
            if answered is not None:
                report.answer, report.answer_detail = answered
            if report.answer in FINAL_ANSWERS or self.monotonic() >= deadline:
                break
            self.sleep(self.settings.poll_s)
        settle_deadline = self.monotonic() + self.settings.answer_timeout_s
        stable_since = self.monotonic()
        while True:
            with self.engine.connect() as conn:
                count = store.readings_in_window(conn, request.series_ids, request.window)
                all_closed = bool(request.gaps) and all(self._judge(conn, gap, request).closed for gap in request.gaps)
            if count != report.readings_after:
                report.readings_after, stable_since = count, self.monotonic()
            now = self.monotonic()
            if all_closed or now - stable_since >= self.settings.settle_s or now >= settle_deadline:
                break
            self.sleep(self.settings.poll_s)

    def _judge(self, conn: Connection, gap: Gap, request: BackfillRequest) -> GapJudgement:
        return store.judge_gap(conn, gap.series_id, gap.gap_start, gap.gap_end or request.window.end,
                               self.gap_factor)

    def _record(self, report: BackfillReport) -> None:
        request = report.request
        timeout = self.settings.answer_timeout_s
        with self.engine.begin() as conn:
            now = datetime.now(UTC)
            for gap in request.gaps:
                judgement = self._judge(conn, gap, request)
                outcome = decide(judgement)
                detail = describe(report.final_answer, report.answer_detail, judgement, timeout)
                store.record_outcome(conn, gap.id, report.cmd_id, outcome, detail, now)
                report.outcomes[gap.id], report.details[gap.id] = outcome, detail

    def _finish_unanswered(self, report: BackfillReport, detail: str) -> None:
        with self.engine.begin() as conn:
            now = datetime.now(UTC)
            for gap in report.request.gaps:
                store.record_outcome(conn, gap.id, report.cmd_id, Outcome.UNFILLABLE, detail, now)
                report.outcomes[gap.id], report.details[gap.id] = Outcome.UNFILLABLE, detail
