"""The rollup refresh schedules: one run over the trailing range, as many partitions as the settings say."""

from datetime import UTC, datetime

import dagster as dg

from tds_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from tds_platform.defs.rollups.schedules import build_rollup_schedules
from tds_platform.rollups.settings import RollupSettings

T = datetime(2026, 11, 23, 10, 52, 30, tzinfo=UTC)


def test_schedules_request_one_run_over_the_trailing_range() -> None:
    hourly, daily = build_rollup_schedules(RollupSettings(trailing_hours=4, trailing_days=2))
    request = hourly.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=T)).run_requests[0]
    assert request.tags[RANGE_START_TAG] == "2026-11-23-07:00"
    assert request.tags[RANGE_END_TAG] == "2026-11-23-10:00"
    request = daily.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=T)).run_requests[0]
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2026-11-22", "2026-11-23")
