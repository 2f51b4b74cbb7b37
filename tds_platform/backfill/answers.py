"""Following sent resend commands: one look at each waiting command, and the verdict on those whose
answer is complete — the device's final answer in tds.cmd_ack (or the answer timeout), then its
resent readings landed — with each gap judged and recorded in tds.gaps.

Called repeatedly (the backfill_answers sensor), so it never waits itself; every look is written
to tds.backfill_commands, so a restart continues where the last look stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from tds_platform.backfill import store
from tds_platform.backfill.plan import (
    FINAL_ANSWERS,
    GapJudgement,
    Outcome,
    answer_settled,
    decide,
    describe,
    follow,
)
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.backfill.store import Command, Gap
from tds_platform.time_windows import Window


@dataclass
class Verdict:
    """One judged command: what the device said, what landed in its window, each gap's outcome."""

    cmd_id: str
    tenant: str
    equipment: str
    window: Window
    answer: str | None  # the newest status the device sent (accepted, done...)
    answer_detail: str | None
    readings_landed: int  # readings of the requested series in the window that were not there before
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    details: dict[int, str] = field(default_factory=dict)

    @property
    def final_answer(self) -> str | None:
        """done / partial / error, or None when the device never finished answering (a timeout)."""
        return self.answer if self.answer in FINAL_ANSWERS else None


class AnswerJudge:
    """Looks at waiting commands with the quality run's gap factor and the backfill settings."""

    def __init__(self, engine: Engine, settings: BackfillSettings, gap_factor: float) -> None:
        self.engine = engine
        self.settings = settings
        self.gap_factor = gap_factor
        self.timeout = timedelta(seconds=settings.answer_timeout_s)
        self.settle = timedelta(seconds=settings.settle_s)

    def look(self, now: datetime) -> list[Verdict]:
        """One look at the oldest waiting commands (TDS_BACKFILL_MAX_JUDGED_PER_TICK); the verdicts
        of those that were ready, oldest first."""
        with self.engine.connect() as conn:
            waiting = store.waiting_commands(conn, self.settings.max_judged_per_tick)
        verdicts = []
        for command in waiting:
            with self.engine.begin() as conn:
                verdict = self._look_at(conn, command, now)
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

    def _look_at(self, conn: Connection, command: Command, now: datetime) -> Verdict | None:
        answered = store.answer(conn, command.tenant, command.equipment, command.cmd_id)
        answer, detail = answered if answered is not None else (None, None)
        settling_since = answer_settled(command.progress, answer, command.requested_at, now, self.timeout)
        if settling_since is None:
            return None
        gaps = store.gaps(conn, command.gap_ids)
        readings = store.readings_in_window(conn, command.series_ids, command.window)
        judgements = {gap.id: self._judge(conn, gap, command.window) for gap in gaps}
        all_closed = bool(judgements) and all(judgement.closed for judgement in judgements.values())
        progress, ready = follow(command.progress, settling_since, readings, all_closed, now, self.settle,
                                 self.timeout)
        if not ready:
            store.save_progress(conn, command.cmd_id, progress)
            return None
        verdict = Verdict(command.cmd_id, command.tenant, command.equipment, command.window, answer, detail,
                          readings - command.readings_before)
        for gap_id, judgement in judgements.items():
            outcome = decide(judgement)
            text = describe(verdict.final_answer, detail, judgement, self.settings.answer_timeout_s)
            store.record_outcome(conn, gap_id, command.cmd_id, outcome, text, now)
            verdict.outcomes[gap_id], verdict.details[gap_id] = outcome, text
        store.save_progress(conn, command.cmd_id, progress)
        store.mark_judged(conn, command.cmd_id, now)
        return verdict

    def _judge(self, conn: Connection, gap: Gap, window: Window) -> GapJudgement:
        """The gap up to its end, or to the end of the window asked for while it was still open."""
        end = window.end if gap.gap_end is None else min(gap.gap_end, window.end)
        return store.judge_gap(conn, gap.series_id, gap.gap_start, end, self.gap_factor)
