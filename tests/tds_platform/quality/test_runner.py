"""Hour ranges the runner accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tds_platform.quality.runner import hours_between

START = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_hours_between_lists_each_hour_start() -> None:
    assert hours_between(START, START + timedelta(hours=3)) == [START + timedelta(hours=h) for h in range(3)]


@pytest.mark.parametrize("end", [START, START + timedelta(minutes=90)])
def test_hours_between_refuses_empty_or_partial_ranges(end: datetime) -> None:
    with pytest.raises(ValueError, match="hour"):
        hours_between(START, end)
