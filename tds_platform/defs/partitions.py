"""Time partitions shared by rollups, quality and dbt, so a window means the same everywhere.

All partitions are UTC; the first one is configurable (`TDS_PARTITIONS_START`) because a fleet's
history starts when it starts.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from tds_platform.settings import PlatformSettings

PARTITIONS_START = PlatformSettings().partitions_start
# A datetime, not the string: hourly partitions parse a string start as "%Y-%m-%d-%H:%M" and
# reject a bare date.
_START = datetime.strptime(PARTITIONS_START, "%Y-%m-%d")

# Quality judges closed hours only.
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=_START, timezone="UTC")

# Rollups and marts refresh the hour and day that are still running (end_offset=1), so the newest
# data is queryable minutes after it lands; schedules and automation re-run them until they close.
hourly_partitions_with_current = dg.HourlyPartitionsDefinition(start_date=_START, timezone="UTC", end_offset=1)
daily_partitions_with_current = dg.DailyPartitionsDefinition(start_date=_START, timezone="UTC", end_offset=1)
