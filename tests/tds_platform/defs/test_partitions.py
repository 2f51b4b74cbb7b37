"""Windows as partition keys: the running partition included, never a key before the first partition."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.defs.partitions import (
    daily_partitions_with_current,
    hourly_partitions,
    hourly_partitions_with_current,
    key_range,
    range_tags,
)
from tds_platform.time_windows import DAY, HOUR, closed_window, trailing_window

T = datetime(2026, 11, 23, 10, 52, 30, tzinfo=UTC)


def test_a_trailing_range_includes_the_running_partition_and_respects_the_start() -> None:
    hours = key_range(hourly_partitions_with_current, trailing_window(T, HOUR, 3))
    assert hours == dg.PartitionKeyRange("2026-11-23-08:00", "2026-11-23-10:00")
    days = key_range(daily_partitions_with_current, trailing_window(T, DAY, 2))
    assert days == dg.PartitionKeyRange("2026-11-22", "2026-11-23")
    first = datetime.fromisoformat(hourly_partitions_with_current.start.isoformat()) + timedelta(minutes=5)
    early = key_range(hourly_partitions_with_current, trailing_window(first, HOUR, 3))
    assert early.start == early.end == hourly_partitions_with_current.get_first_partition_key()


def test_closed_hours_end_before_the_running_one() -> None:
    assert key_range(hourly_partitions, closed_window(T, HOUR, 3)) == dg.PartitionKeyRange(
        "2026-11-23-07:00", "2026-11-23-09:00")


def test_a_range_is_one_run_by_dagsters_own_tags() -> None:
    """Dagster spells them in a private module; ours must stay equal to them."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    tags = range_tags(dg.PartitionKeyRange("2026-11-22", "2026-11-23"))
    assert tags == {ASSET_PARTITION_RANGE_START_TAG: "2026-11-22", ASSET_PARTITION_RANGE_END_TAG: "2026-11-23"}
