"""UTC time windows every domain shares: bucket arithmetic, the trailing and closed windows the
schedules refresh, and ISO 8601 times given in config, read by one rule.

Pure (no clock, no Dagster, no database): callers pass `now`. A window is half-open, [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Buckets are aligned on this origin, as TimescaleDB's time_bucket aligns minutes, hours and days.
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end), both timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.start >= self.end:
            raise ValueError(f"a window must start before it ends ({self.start.isoformat()} >= "
                             f"{self.end.isoformat()})")


def floor_to_bucket(moment: datetime, width: timedelta) -> datetime:
    """The start of the bucket of `width` holding `moment`."""
    return BUCKET_ORIGIN + ((moment - BUCKET_ORIGIN) // width) * width


def ceil_to_bucket(moment: datetime, width: timedelta) -> datetime:
    """The first bucket start at or after `moment`."""
    floor = floor_to_bucket(moment, width)
    return floor if floor == moment else floor + width


def trailing_window(now: datetime, width: timedelta, count: int) -> Window:
    """The `count` buckets of `width` ending with the one still running at `now` (what a refresh
    rewrites for late data)."""
    running = floor_to_bucket(now, width)
    return Window(running - (count - 1) * width, running + width)


def closed_window(now: datetime, width: timedelta, count: int) -> Window:
    """The `count` complete buckets of `width` before `now` (what quality judges: never the running one)."""
    end = floor_to_bucket(now, width)
    return Window(end - count * width, end)


def parse_instant(value: str, name: str) -> datetime:
    """An ISO 8601 time from config or the command line; one without a zone is UTC, as every
    partition, schedule and window of the platform is. ValueError (one sentence naming `name`)
    for anything else."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 time such as 2026-11-22T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
