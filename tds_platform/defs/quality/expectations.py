"""Great Expectations suites as asset checks on the rollup assets, one partition per evaluation.

The checks target the rollup assets by key and share their partitions (defs/partitions.py),
so a result shows against the partition it judged; they only read the rollup views.
"""

import dagster as dg

from tds_platform.defs.partitions import ROLLUP_PARTITIONS
from tds_platform.defs.quality.assets import severity
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.expectations import read_partition, validate_rollup
from tds_platform.quality.settings import QualitySettings
from tds_platform.rollups.levels import LEVELS, RollupLevel

EXPECTATIONS_CHECK = "rollup_expectations"


def build_rollup_expectations_check(level: RollupLevel, settings: QualitySettings) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(level.name), name=EXPECTATIONS_CHECK, partitions_def=ROLLUP_PARTITIONS[level.name],
        description=f"Great Expectations over one partition of tds.{level.name}: keys not null and unique, "
                    "n >= 1, min <= avg <= max, min/max inside the metric's valid range.",
    )
    def rollup_expectations(context: dg.AssetCheckExecutionContext, database: DatabaseResource) -> dg.AssetCheckResult:
        start, end = context.partition_time_window
        with database.engine().connect() as conn:
            frame = read_partition(conn, level.name, start, end)
        outcome = validate_rollup(frame, level.name, settings.max_offenders)
        failed = outcome.failed
        return dg.AssetCheckResult(
            passed=outcome.success, severity=severity(settings),
            description=(f"{outcome.rows} rows of {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} meet every expectation"
                         if outcome.success else
                         f"{len(failed)} expectations failed on {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}: "
                         + "; ".join(e.expectation for e in failed)),
            metadata={
                "window_start": start.isoformat(), "window_end": end.isoformat(), "rows": outcome.rows,
                "expectations": len(outcome.expectations), "failed_expectations": len(failed),
                "offending_equipment": sorted({f"{o['tenant']}/{o['equipment']}" for e in failed for o in e.offenders
                                               if o["tenant"] is not None and o["equipment"] is not None}),
                "failures": [{"expectation": e.expectation, "unexpected_count": e.unexpected_count,
                              "offenders": e.offenders} for e in failed],
            },
        )

    return rollup_expectations


def build_rollup_expectations_checks(settings: QualitySettings) -> list[dg.AssetChecksDefinition]:
    return [build_rollup_expectations_check(level, settings) for level in LEVELS]
