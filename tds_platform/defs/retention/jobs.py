"""The `apply_retention` job and its daily schedule.

The op only calls `apply_retention` and reports what went, as observations on the affected
assets and as run metadata; it must never decide a cutoff itself.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.retention.apply import apply_retention
from tds_platform.retention.compression import compress_settled
from tds_platform.retention.policy import RetentionSettings

RETENTION_CRON = "30 3 * * *"  # daily, in the quiet hours (UTC)


def build_retention_job(settings: RetentionSettings) -> dg.JobDefinition:
    @dg.op(name="apply_retention_policy", description="Drop rows older than each table's retention policy.",
           out=dg.Out(dg.Nothing))
    def apply_retention_policy(context: dg.OpExecutionContext, database: DatabaseResource) -> None:
        outcomes = apply_retention(database.engine(), database.edition(), settings, datetime.now(UTC))
        for outcome in outcomes:
            context.log_event(dg.AssetObservation(asset_key=outcome.target.asset_key, metadata=outcome.metadata()))
            context.log.info(f"{outcome.target.table}: {outcome.metadata()}")
        context.add_output_metadata({
            "rows_deleted": sum(o.rows_deleted for o in outcomes),
            "chunks_dropped": sum(len(o.chunks_dropped) for o in outcomes),
        })

    @dg.op(name="compress_settled_chunks", ins={"after_retention": dg.In(dg.Nothing)},
           description="Compress the raw readings' chunks past the late-data window (full edition).")
    def compress_settled_chunks(context: dg.OpExecutionContext, database: DatabaseResource) -> None:
        compressed = compress_settled(database.engine(), database.edition(),
                                      timedelta(days=settings.compress_after_days), datetime.now(UTC))
        context.log.info(f"tds.telemetry_raw compression: {compressed.metadata()}")
        context.add_output_metadata(compressed.metadata())

    @dg.job(name="apply_retention", description="Apply the per-table retention policy (TDS_RETENTION_*), then "
            "compress the raw chunks past the late-data window.",
            tags=lane_tags(Lane.RETENTION), executor_def=dg.in_process_executor)
    def apply_retention_job() -> None:
        # Retention first: a chunk about to be dropped is not worth compressing.
        compress_settled_chunks(after_retention=apply_retention_policy())

    return apply_retention_job


def build_retention_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="retention_daily", job=job, cron_schedule=RETENTION_CRON, execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Once a day: drop what the retention policy no longer keeps.",
    )
