"""Time windows every domain shares: bucket alignment, trailing and closed windows, ISO times from config."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tds_platform.time_windows import (
    DAY,
    HOUR,
    Window,
    ceil_to_bucket,
    closed_window,
    floor_to_bucket,
    parse_instant,
    trailing_window,
)

T = datetime(2026, 11, 23, 10, 52, 30, tzinfo=UTC)


@pytest.mark.parametrize(("width", "floor", "ceil"), [
    (timedelta(minutes=1), datetime(2026, 11, 23, 10, 52, tzinfo=UTC), datetime(2026, 11, 23, 10, 53, tzinfo=UTC)),
    (HOUR, datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 23, 11, tzinfo=UTC)),
    (DAY, datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
])
def test_buckets_align_like_time_bucket(width: timedelta, floor: datetime, ceil: datetime) -> None:
    assert floor_to_bucket(T, width) == floor
    assert ceil_to_bucket(T, width) == ceil
    assert ceil_to_bucket(floor, width) == floor


def test_a_trailing_window_ends_with_the_running_bucket_and_a_closed_one_before_it() -> None:
    assert trailing_window(T, HOUR, 3) == Window(datetime(2026, 11, 23, 8, tzinfo=UTC),
                                                  datetime(2026, 11, 23, 11, tzinfo=UTC))
    assert trailing_window(T, DAY, 2) == Window(datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))
    assert closed_window(T, HOUR, 3) == Window(datetime(2026, 11, 23, 7, tzinfo=UTC),
                                                datetime(2026, 11, 23, 10, tzinfo=UTC))


def test_a_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="must start before it ends"):
        Window(T, T)
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(T.replace(tzinfo=None), T.replace(tzinfo=None) + HOUR)


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-11-22T10:00:00Z", datetime(2026, 11, 22, 10, tzinfo=UTC)),
    ("2026-11-22T11:00:00+01:00", datetime(2026, 11, 22, 11, tzinfo=timezone(HOUR))),
    ("2026-11-22T10:00:00", datetime(2026, 11, 22, 10, tzinfo=UTC)),  # no zone: UTC, like every partition
    ("2026-11-22", datetime(2026, 11, 22, tzinfo=UTC)),
])
def test_an_iso_time_without_a_zone_is_utc(text: str, moment: datetime) -> None:
    assert parse_instant(text, "since") == moment


def test_anything_else_is_one_sentence_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"^window_start 'yesterday' is not an ISO 8601 time such as "):
        parse_instant("yesterday", "window_start")
