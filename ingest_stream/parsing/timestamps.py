"""Device timestamps -> timezone-aware UTC datetimes, and the window a landed reading must fall in.

Never invents a time and never guesses a zone: a timestamp without Z or an offset is rejected.

Accepted forms:
- ISO 8601 strings WITH `Z` or an offset (`2026-11-22T10:00:00Z`, `...+01:00`), as Python's
  `datetime.fromisoformat` reads them (fractions beyond microseconds are truncated).
  Naive strings (`2026-11-22T10:00:00`, `2026-11-22`) are rejected: a device clock in local time
  would land hours off without anyone noticing, so the device must say which zone it means.
- JSON numbers as Unix epoch time: seconds below 1e11, milliseconds from 1e11 on (1e11 s is the
  year 5138; 1e11 ms is 1973, before the default earliest_ts). Booleans and numeric strings are not
  timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest_stream.parsing.names import shown

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECONDS_FROM = 1e11


class TimestampError(ValueError):
    """A value that is not a timestamp this layer accepts; the message ends a sentence."""


def to_utc(value: object) -> datetime:
    """The UTC datetime a device meant by `value` (see the module docstring), or TimestampError."""
    if isinstance(value, str):
        return _from_iso(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    raise TimestampError(f"{shown(value)} is not a timestamp (ISO 8601 with Z or an offset, or epoch seconds/ms)")


def _from_iso(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"{shown(text)} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise TimestampError(f"{shown(text)} has no UTC offset; add Z or +hh:mm")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TimestampError(f"{shown(text)} is out of range") from None


def _from_epoch(number: float) -> datetime:
    try:
        if abs(number) < MILLISECONDS_FROM:
            return EPOCH + timedelta(seconds=number)
        return EPOCH + timedelta(milliseconds=number)
    except (OverflowError, ValueError):
        raise TimestampError(f"{shown(number)} is out of range as epoch seconds or milliseconds") from None


def window_problem(moment: datetime, earliest: datetime, latest: datetime) -> str | None:
    """Why `moment` cannot be landed (before `earliest` or after `latest`), or None."""
    if moment < earliest:
        return f"{moment.isoformat()} is before the earliest accepted time {earliest.isoformat()}"
    if moment > latest:
        return f"{moment.isoformat()} is later than {latest.isoformat()} (time of receipt + allowed clock skew)"
    return None
