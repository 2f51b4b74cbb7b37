"""Device timestamps: the forms accepted, normalisation to UTC, and the refusals."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ingest_stream.parsing.timestamps import TimestampError, to_utc, window_problem

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-22T10:00:00Z", T0, id="iso-z"),
        pytest.param("2026-11-22T10:00:00+00:00", T0, id="iso-zero-offset"),
        pytest.param("2026-11-22T07:00:00-03:00", T0, id="iso-negative-offset"),
        pytest.param("2026-11-22T11:00:00+01:00", T0, id="iso-positive-offset"),
        pytest.param("2026-11-22 10:00:00Z", T0, id="iso-space-separator"),
        pytest.param("20261122T100000Z", T0, id="iso-basic-format"),
        pytest.param("2026-11-22T10:00:00.123456Z", T0.replace(microsecond=123456), id="iso-microseconds"),
        pytest.param("2026-11-22T10:00:00.123456789Z", T0.replace(microsecond=123456), id="iso-nanoseconds-truncated"),
        pytest.param(1795341600, T0, id="epoch-seconds-int"),
        pytest.param(1795341600.25, T0.replace(microsecond=250000), id="epoch-seconds-float"),
        pytest.param(1795341600123, T0.replace(microsecond=123000), id="epoch-milliseconds-int"),
        pytest.param(1795341600123.5, T0.replace(microsecond=123500), id="epoch-milliseconds-float"),
    ],
)
def test_accepted(value: object, expected: datetime) -> None:
    moment = to_utc(value)
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message_part"),
    [
        pytest.param("2026-11-22T10:00:00", "has no UTC offset", id="naive"),
        pytest.param("2026-11-22", "has no UTC offset", id="date-only"),
        pytest.param("yesterday", "is not an ISO 8601 timestamp", id="words"),
        pytest.param("2026-13-01T00:00:00Z", "is not an ISO 8601 timestamp", id="month-13"),
        pytest.param("1795341600", "is not an ISO 8601 timestamp", id="numeric-string"),
        pytest.param("", "is not an ISO 8601 timestamp", id="empty-string"),
        pytest.param("0001-01-01T00:00:00+01:00", "is out of range", id="before-year-1-in-utc"),
        pytest.param(True, "is not a timestamp", id="boolean"),
        pytest.param(None, "is not a timestamp", id="null"),
        pytest.param({"s": 1}, "is not a timestamp", id="object"),
        pytest.param(1e20, "is out of range", id="epoch-too-large"),
        pytest.param(float("nan"), "is out of range", id="nan"),
        pytest.param(float("inf"), "is out of range", id="infinity"),
    ],
)
def test_refused(value: object, message_part: str) -> None:
    with pytest.raises(TimestampError, match=re.escape(message_part)):
        to_utc(value)


def test_window_edges_are_inclusive() -> None:
    earliest, latest = T0, T0.replace(hour=11)
    assert window_problem(earliest, earliest, latest) is None
    assert window_problem(latest, earliest, latest) is None
    assert "before the earliest" in (window_problem(T0.replace(microsecond=0, second=0, minute=0, hour=9), earliest,
                                                    latest) or "")
    assert "later than" in (window_problem(latest.replace(microsecond=1), earliest, latest) or "")
