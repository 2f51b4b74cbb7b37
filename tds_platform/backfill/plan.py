"""The pure part of a backfill: resend windows, which gaps share one command, the command message,
when a device's answer is complete, and the outcome of a gap.

No I/O and no clock: callers pass `now`, so every rule here is tested with plain values. The
command follows the simulator's resend protocol (tds_platform/simulate/commands.py), a contract.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from tds_platform.time_windows import Window


class Outcome(enum.StrEnum):
    """tds.gaps.backfill_status values this job writes (migration 0003's check constraint)."""

    REQUESTED = "requested"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    UNFILLABLE = "unfillable"


FINAL_ANSWERS = frozenset({"done", "partial", "error"})


@dataclass(frozen=True, slots=True)
class GapSpan:
    """A gap as the new-gap sensor batches it: whose silence it is and when (gap_end None: still open)."""

    id: int
    tenant: str
    equipment: str
    gap_start: datetime
    gap_end: datetime | None


@dataclass(frozen=True, slots=True)
class GapJudgement:
    """What landed inside one gap after the resend: readings strictly inside it and the longest
    silence left between its edges; `limit_s` is the silence that counts as a gap (None: unknown)."""

    readings_inside: int
    longest_silence_s: float
    limit_s: float | None

    @property
    def closed(self) -> bool:
        if self.limit_s is None:
            return self.readings_inside > 0
        return self.longest_silence_s <= self.limit_s


@dataclass(frozen=True, slots=True)
class Progress:
    """How far following a command's answer has got: `settling_since` is when its final answer was
    seen or the answer timeout passed (None: the device may still answer); `readings_after` the
    requested series' readings in the window at the last look, `last_landing_at` when that count
    last changed."""

    settling_since: datetime | None
    readings_after: int
    last_landing_at: datetime | None = None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def resend_window(gap_start: datetime, gap_end: datetime | None, now: datetime, margin: timedelta) -> Window:
    """The gap widened by `margin` on each side; an open gap (no end yet) runs up to now, and nothing
    is asked for beyond now (the device cannot resend the future)."""
    end = now if gap_end is None else min(gap_end + margin, now)
    return Window(gap_start - margin, end)


def union_window(windows: Sequence[Window]) -> Window:
    """The one window covering all of `windows` (and whatever lies between them)."""
    return Window(min(window.start for window in windows), max(window.end for window in windows))


def batch_gaps(gaps: Sequence[GapSpan], now: datetime, margin: timedelta, slack: timedelta) -> list[tuple[int, ...]]:
    """Gap ids grouped into one resend command each: gaps of one equipment whose resend windows
    overlap or lie at most `slack` apart. A device silenced as a whole leaves one gap per metric at
    nearly the same time, and one command answers them all; gaps further apart stay apart, because
    one window spanning both would make the device resend everything between them.

    Batches come in the order of their oldest gap in `gaps`, each with its ids sorted."""
    per_equipment: dict[tuple[str, str], list[tuple[Window, int, int]]] = {}
    for order, gap in enumerate(gaps):
        window = resend_window(gap.gap_start, gap.gap_end, now, margin)
        per_equipment.setdefault((gap.tenant, gap.equipment), []).append((window, order, gap.id))
    batches: list[tuple[int, list[int]]] = []
    for members in per_equipment.values():
        reach: datetime | None = None
        for window, order, gap_id in sorted(members, key=lambda member: member[0].start):
            if reach is not None and window.start <= reach + slack:
                batches[-1] = (min(batches[-1][0], order), [*batches[-1][1], gap_id])
                reach = max(reach, window.end)
            else:
                batches.append((order, [gap_id]))
                reach = window.end
    return [tuple(sorted(ids)) for _, ids in sorted(batches)]


def new_cmd_id(now: datetime) -> str:
    """Unique, sortable by time, and only characters the writer accepts in a cmd_id ([A-Za-z0-9_.:@-])."""
    return f"bf-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def cmd_topic(tenant: str, site: str, equipment: str) -> str:
    return f"tds/{tenant}/{site}/{equipment}/cmd"


def resend_command(cmd_id: str, window: Window, metrics: tuple[str, ...] | None, now: datetime) -> bytes:
    args: dict[str, object] = {"from": iso(window.start), "to": iso(window.end)}
    if metrics:
        args["metrics"] = list(metrics)
    return orjson.dumps({"schema": "v1", "cmd_id": cmd_id, "cmd": "resend", "args": args, "ts": iso(now)})


def answer_settled(progress: Progress, answer: str | None, requested_at: datetime, now: datetime,
                   timeout: timedelta) -> datetime | None:
    """Since when the device has nothing more to say: the first look that saw its final answer, or
    the first look after the answer timeout; None while it may still answer."""
    if progress.settling_since is not None:
        return progress.settling_since
    if answer in FINAL_ANSWERS or now >= requested_at + timeout:
        return now
    return None


def follow(progress: Progress, settling_since: datetime, readings: int, all_closed: bool, now: datetime,
           settle: timedelta, timeout: timedelta) -> tuple[Progress, bool]:
    """The progress after one look at what landed, and whether the command is ready to be judged.

    After the answer the resent readings may still be on their way (several writers share the
    load): judge once every gap has closed, or nothing new landed for `settle`, or at the latest
    `timeout` after the answer."""
    landed_at = now if readings != progress.readings_after else progress.last_landing_at
    quiet_since = max(settling_since, landed_at) if landed_at is not None else settling_since
    ready = all_closed or now - quiet_since >= settle or now >= settling_since + timeout
    return Progress(settling_since, readings, landed_at), ready


def decide(judgement: GapJudgement) -> Outcome:
    """What landed decides, not what the device said: a gap whose silence is gone is filled even if
    the device answered `partial`, and one where nothing landed is unfillable whatever it answered."""
    if judgement.closed:
        return Outcome.FILLED
    if judgement.readings_inside > 0:
        return Outcome.PARTIALLY_FILLED
    return Outcome.UNFILLABLE


def describe(answer: str | None, answer_detail: str | None, judgement: GapJudgement, timeout_s: float) -> str:
    """The backfill_detail sentence an operator reads in tds.gaps."""
    if answer is None:
        said = f"no final answer from the device within {timeout_s:g} s"
    else:
        said = f"device answered {answer}" + (f" ({answer_detail})" if answer_detail else "")
    limit = "unknown interval" if judgement.limit_s is None else f"limit {judgement.limit_s:g} s"
    return (f"{said}; {judgement.readings_inside} readings inside the gap, "
            f"longest silence {judgement.longest_silence_s:g} s ({limit})")
