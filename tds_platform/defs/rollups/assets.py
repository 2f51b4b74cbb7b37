"""The rollup assets telemetry_1m -> telemetry_1h -> telemetry_1d, built by one small factory.

A materialization refreshes exactly its partition window (a range in one run for backfills); the
asset body only picks the window and reports; all SQL lives in `sql.py` and `refresh.py`.
"""

from datetime import UTC, datetime

import dagster as dg

from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.retention.policy import TARGETS_BY_ASSET, RetentionSettings
from tds_platform.defs.rollups.levels import LEVELS, RollupLevel, refreshable_window
from tds_platform.defs.rollups.refresh import refresh


def build_rollup_asset(level: RollupLevel, retention: RetentionSettings) -> dg.AssetsDefinition:
    @dg.asset(
        name=level.name, group_name="rollups", deps=[level.source_asset], partitions_def=level.partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(), freshness_policy=level.freshness_policy,
        kinds={"timescaledb", "sql"}, description=level.description,
    )
    def rollup(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        horizon = retention.cutoff(TARGETS_BY_ASSET[level.source_asset], datetime.now(UTC))
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
