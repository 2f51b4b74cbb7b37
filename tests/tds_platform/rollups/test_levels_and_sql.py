"""Rollup levels, the window a refresh may rewrite, and the SQL builders: pure, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tds_platform.db.edition import Edition
from tds_platform.rollups.levels import TELEMETRY_1D, TELEMETRY_1H, TELEMETRY_1M, RollupLevel, refreshable_window
from tds_platform.rollups.sql import DELETE, INSERT, TABLE_EDITIONS, insert_sql


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

    assert "FROM tds.telemetry_raw" in insert(TELEMETRY_1M)
    assert "INSERT INTO tds.telemetry_1m_data" in insert(TELEMETRY_1M)
    assert "FROM tds.telemetry_1m_data" in insert(TELEMETRY_1H)
    assert "INSERT INTO tds.telemetry_1h_data" in insert(TELEMETRY_1H)
    assert "FROM tds.telemetry_1h_data" in insert(TELEMETRY_1D)
    assert "INTERVAL '86400 seconds'" in insert(TELEMETRY_1D)
    assert "sum(value) / count(value)" in insert(TELEMETRY_1M)
    for level in (TELEMETRY_1H, TELEMETRY_1D):
        assert "sum(sum) / sum(n)" in insert(level)
    for level in (TELEMETRY_1M, TELEMETRY_1H, TELEMETRY_1D):
        assert DELETE[level.name].text == f"DELETE FROM tds.{level.name}_data WHERE bucket >= :start AND bucket < :end"


def test_a_level_read_from_raw_readings_in_hourly_slices_must_not_split_its_buckets() -> None:
    wide = replace(TELEMETRY_1M, name="telemetry_90m", width=timedelta(minutes=90))
    with pytest.raises(ValueError, match="divide"):
        insert_sql(wide, Edition.APACHE)
