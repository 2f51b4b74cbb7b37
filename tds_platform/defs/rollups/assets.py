"""The rollup assets telemetry_1m -> telemetry_1h -> telemetry_1d, built by one small factory.

A materialization refreshes exactly its partition window (a range in one run for backfills); the
asset body only picks the window and reports; the SQL and the refresh live in `tds_platform.rollups`.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.defs.partitions import ROLLUP_PARTITIONS
from tds_platform.defs.resources import DatabaseResource
from tds_platform.retention.policy import TARGETS_BY_ASSET, RetentionSettings
from tds_platform.rollups.levels import (
    LEVELS,
    TELEMETRY_1D,
    TELEMETRY_1H,
    TELEMETRY_1M,
    RollupLevel,
    refreshable_window,
)
from tds_platform.rollups.refresh import refresh

_WITHIN_HALF_AN_HOUR = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=30),
                                                      warn_window=timedelta(minutes=15))
FRESHNESS = {
    TELEMETRY_1M.name: _WITHIN_HALF_AN_HOUR,
    TELEMETRY_1H.name: _WITHIN_HALF_AN_HOUR,
    TELEMETRY_1D.name: dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=1)),
}
DESCRIPTIONS = {
    TELEMETRY_1M.name: "1-minute rollups of every numeric series (n, min, max, avg, sum, first, last); "
                       "partition = one hour.",
    TELEMETRY_1H.name: "1-hour rollups built from the 1-minute level (avg = sum/n); partition = one hour.",
    TELEMETRY_1D.name: "1-day rollups built from the 1-hour level (avg = sum/n); partition = one UTC day.",
}


def build_rollup_asset(level: RollupLevel, retention: RetentionSettings) -> dg.AssetsDefinition:
    @dg.asset(
        name=level.name, group_name="rollups", deps=[level.source], partitions_def=ROLLUP_PARTITIONS[level.name],
        backfill_policy=dg.BackfillPolicy.single_run(), freshness_policy=FRESHNESS[level.name],
        kinds={"timescaledb", "sql"}, description=DESCRIPTIONS[level.name],
    )
    def rollup(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        horizon = retention.cutoff(TARGETS_BY_ASSET[level.source], datetime.now(UTC))
        refreshable = refreshable_window(window.start, window.end, level.width, horizon)
        if refreshable is None:
            context.log.warning(f"{level.name}: {window.start}..{window.end} is older than the source's retention")
            return dg.MaterializeResult(metadata={"rows_written": 0, "skipped": "older than the source's retention"})
        result = refresh(database.engine(), database.edition(), level, *refreshable)
        context.log.info(f"{level.name}: {result.metadata()}")
        return dg.MaterializeResult(metadata=result.metadata())

    return rollup


def build_rollup_assets(retention: RetentionSettings) -> list[dg.AssetsDefinition]:
    return [build_rollup_asset(level, retention) for level in LEVELS]
