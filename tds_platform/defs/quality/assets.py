"""The quality assets `quality_hourly` and `gaps`, judged together per hour, with their checks.

One multi-asset because both come from the same pass over the readings (computing them twice
would double the cost); the body only picks the window and reports, the numbers come from
`tds_platform.quality`. It must never write outside the partition window it was given.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from tds_platform.defs.partitions import hourly_partitions
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.runner import HoursJudged, judge_hours
from tds_platform.quality.settings import QualitySettings
from tds_platform.quality.thresholds import own_thresholds, with_thresholds
from tds_platform.quality.verdicts import Verdict, coverage_verdict, good_verdict, long_gap_verdict
from tds_platform.time_windows import parse_instant

QUALITY_HOURLY = dg.AssetKey("quality_hourly")
GAPS = dg.AssetKey("gaps")
TELEMETRY = dg.AssetKey("telemetry")
SERIES_INTERVALS = dg.AssetKey("series_intervals")

# The readings, and the intervals they are judged by (inferred inline only for hours older than
# series_intervals serves: a backfill of history).
JUDGED_FROM = [TELEMETRY, SERIES_INTERVALS]

COVERAGE_CHECK = "coverage_above_threshold"
GOOD_CHECK = "good_pct_above_threshold"
LONG_GAP_CHECK = "no_long_gap"


class QualityRunConfig(dg.Config):
    now: str | None = Field(
        default=None,
        description="run as of this ISO 8601 time, UTC unless it names a zone (reproduce a past run, tests); "
                    "default: now",
    )

    def resolved_now(self) -> datetime:
        if self.now is None:
            return datetime.now(UTC)
        try:
            return parse_instant(self.now, "config now")
        except ValueError as error:
            raise dg.Failure(str(error)) from None


def severity(settings: QualitySettings) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if settings.check_severity == "error" else dg.AssetCheckSeverity.WARN


def check_result(asset: dg.AssetKey, name: str, verdict: Verdict, settings: QualitySettings) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset, check_name=name, passed=verdict.passed, severity=severity(settings),
        description=verdict.description, metadata=verdict.metadata,
    )


def _materializations(judged: HoursJudged, start: datetime, end: datetime) -> list[dg.MaterializeResult]:
    window = {"window_start": start.isoformat(), "window_end": end.isoformat()}
    series = judged.series
    return [
        dg.MaterializeResult(asset_key=QUALITY_HOURLY, metadata={
            **window, "rows_written": judged.rows_written,
            # Judged without coverage or gaps: no interval yet (series_intervals remembers it within
            # minutes, the next run re-judges them) or too few readings ever to have one.
            "series_hours_without_interval": judged.pending,
            "mean_coverage_pct": float(series["coverage_pct"].astype("float64").mean()) if len(series) else None,
            "mean_good_pct": float(series["good_pct"].astype("float64").mean()) if len(series) else None,
        }),
        dg.MaterializeResult(asset_key=GAPS, metadata={
            **window, "gaps_in_window": len(judged.gaps), "open_gaps": int(judged.gaps["gap_end"].isna().sum()),
            "new_gaps": judged.gap_changes.new, "updated_gaps": judged.gap_changes.updated,
            "cleared_gaps": judged.gap_changes.cleared,
        }),
    ]


def build_quality_assets(settings: QualitySettings) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="quality",
        specs=[
            dg.AssetSpec(QUALITY_HOURLY, deps=JUDGED_FROM, group_name="quality", kinds={"postgres", "sql"},
                         description="tds.quality_hourly: expected, received, good, coverage_pct, good_pct, "
                                     "gap_count, longest_gap_s per tenant/equipment/metric and hour."),
            dg.AssetSpec(GAPS, deps=JUDGED_FROM, group_name="quality", kinds={"postgres", "sql"},
                         description="tds.gaps: silences longer than gap_factor x the expected interval, "
                                     "tracked across runs (open while running, closed when data resumes, "
                                     "cleared when filled)."),
        ],
        check_specs=[
            dg.AssetCheckSpec(COVERAGE_CHECK, asset=QUALITY_HOURLY,
                              description="every series-hour has coverage >= its threshold "
                                          f"(metric_spec.min_coverage_pct, else {settings.min_coverage_pct:g}%)"),
            dg.AssetCheckSpec(GOOD_CHECK, asset=QUALITY_HOURLY,
                              description="every series-hour has good readings >= its threshold "
                                          f"(metric_spec.min_good_pct, else {settings.min_good_pct:g}%)"),
            dg.AssetCheckSpec(LONG_GAP_CHECK, asset=GAPS,
                              description="no gap found in the partition is longer than its limit "
                                          f"(metric_spec.max_gap_s, else {settings.max_gap_s:g} s)"),
        ],
        partitions_def=hourly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def quality(context: dg.AssetExecutionContext, config: QualityRunConfig, database: DatabaseResource):
        start, end = context.partition_time_window
        engine = database.engine()
        judged = judge_hours(engine, start, end, config.resolved_now(), settings.gap_factor)
        yield from _materializations(judged, start, end)
        with engine.connect() as conn:
            own = own_thresholds(conn)
        series, gaps = with_thresholds(judged.series, own, settings), with_thresholds(judged.gaps, own, settings)
        yield check_result(QUALITY_HOURLY, COVERAGE_CHECK, coverage_verdict(series, settings), settings)
        yield check_result(QUALITY_HOURLY, GOOD_CHECK, good_verdict(series, settings), settings)
        yield check_result(GAPS, LONG_GAP_CHECK, long_gap_verdict(gaps, settings), settings)

    return quality
