"""Rollup window arithmetic, SQL builders and schedules: pure, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from tds_platform.db.edition import Edition
from tds_platform.defs.partitions import daily_partitions_with_current, hourly_partitions_with_current
from tds_platform.defs.rollups.levels import (
    DAY,
    HOUR,
    MINUTE,
    RollupLevel,
    ceil_to_bucket,
    floor_to_bucket,
    refreshable_window,
)
from tds_platform.defs.rollups.schedules import RANGE_END_TAG, RANGE_START_TAG, build_rollup_schedules, trailing_range
from tds_platform.defs.rollups.settings import RollupSettings
from tds_platform.defs.rollups.sql import DELETE, INSERT, TABLE_EDITIONS, insert_sql

T = datetime(2026, 11, 23, 10, 52, 30, tzinfo=UTC)


@pytest.mark.parametrize(("width", "floor", "ceil"), [
    (timedelta(minutes=1), datetime(2026, 11, 23, 10, 52, tzinfo=UTC), datetime(2026, 11, 23, 10, 53, tzinfo=UTC)),
    (timedelta(hours=1), datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 23, 11, tzinfo=UTC)),
    (timedelta(days=1), datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
])
def test_buckets_align_like_time_bucket(width: timedelta, floor: datetime, ceil: datetime) -> None:
    assert floor_to_bucket(T, width) == floor
    assert ceil_to_bucket(T, width) == ceil
    assert ceil_to_bucket(floor, width) == floor


def test_window_never_reaches_past_the_source_retention() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    assert refreshable_window(start, end, timedelta(hours=1), None) == (start, end)
    horizon = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert refreshable_window(start, end, timedelta(hours=1), horizon) == (datetime(2026, 11, 1, 6, tzinfo=UTC), end)
    assert refreshable_window(start, end, timedelta(hours=1), datetime(2026, 11, 3, tzinfo=UTC)) is None


@pytest.mark.parametrize("edition", TABLE_EDITIONS)
def test_each_level_reads_the_level_below_and_writes_its_own_table(edition: Edition) -> None:
    def insert(level: RollupLevel) -> str:
        return INSERT[(edition, level.name)].text

    assert "FROM tds.telemetry_raw" in insert(MINUTE)
    assert "INSERT INTO tds.telemetry_1m_data" in insert(MINUTE)
    assert "FROM tds.telemetry_1m_data" in insert(HOUR)
    assert "INSERT INTO tds.telemetry_1h_data" in insert(HOUR)
    assert "FROM tds.telemetry_1h_data" in insert(DAY)
    assert "INTERVAL '86400 seconds'" in insert(DAY)
    assert "sum(value) / count(value)" in insert(MINUTE)
    for level in (HOUR, DAY):
        assert "sum(sum) / sum(n)" in insert(level)
    for level in (MINUTE, HOUR, DAY):
        assert DELETE[level.name].text == f"DELETE FROM tds.{level.name}_data WHERE bucket >= :start AND bucket < :end"


def test_a_level_read_from_raw_readings_in_hourly_slices_must_not_split_its_buckets() -> None:
    wide = replace(MINUTE, name="telemetry_90m", width=timedelta(minutes=90))
    with pytest.raises(ValueError, match="divide"):
        insert_sql(wide, Edition.APACHE)


def test_trailing_range_includes_the_running_partition_and_respects_the_start() -> None:
    hours = trailing_range(hourly_partitions_with_current, timedelta(hours=1), T, 3)
    assert hours == dg.PartitionKeyRange("2026-11-23-08:00", "2026-11-23-10:00")
    days = trailing_range(daily_partitions_with_current, timedelta(days=1), T, 2)
    assert days == dg.PartitionKeyRange("2026-11-22", "2026-11-23")
    first = datetime.fromisoformat(hourly_partitions_with_current.start.isoformat()) + timedelta(minutes=5)
    early = trailing_range(hourly_partitions_with_current, timedelta(hours=1), first, 3)
    assert early.start == early.end == hourly_partitions_with_current.get_first_partition_key()


def test_schedules_request_one_run_over_the_trailing_range() -> None:
    hourly, daily = build_rollup_schedules(RollupSettings(trailing_hours=4, trailing_days=2))
    request = hourly.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=T)).run_requests[0]
    assert request.tags[RANGE_START_TAG] == "2026-11-23-07:00"
    assert request.tags[RANGE_END_TAG] == "2026-11-23-10:00"
    request = daily.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=T)).run_requests[0]
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2026-11-22", "2026-11-23")
