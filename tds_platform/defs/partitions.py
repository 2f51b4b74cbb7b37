"""Time partitions shared by rollups, quality and dbt, so a window means the same everywhere.

All partitions are UTC; the first one is configurable (`TDS_PARTITIONS_START`) because a fleet's
history starts when it starts.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.settings import PlatformSettings

PARTITIONS_START = PlatformSettings().partitions_start

hourly_partitions = dg.HourlyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
