"""The `apply_retention` job and its daily schedule.

The op only calls `apply_retention` and reports what went, as observations on the affected
assets and as run metadata; it must never decide a cutoff itself.
"""

from datetime import UTC, datetime

import dagster as dg

from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.retention.apply import apply_retention
from tds_platform.retention.policy import RetentionSettings

RETENTION_CRON = "30 3 * * *"  # daily, in the quiet hours (UTC)


def build_retention_job(settings: RetentionSettings) -> dg.JobDefinition:
    @dg.op(name="apply_retention_policy", description="Drop rows older than each table's retention policy.")
    def apply_retention_policy(context: dg.OpExecutionContext, database: DatabaseResource) -> None:
        outcomes = apply_retention(database.engine(), database.edition(), settings, datetime.now(UTC))
        for outcome in outcomes:
            context.log_event(dg.AssetObservation(asset_key=outcome.target.asset_key, metadata=outcome.metadata()))
            context.log.info(f"{outcome.target.table}: {outcome.metadata()}")
        context.add_output_metadata({
            "rows_deleted": sum(o.rows_deleted for o in outcomes),
            "chunks_dropped": sum(len(o.chunks_dropped) for o in outcomes),
        })

    @dg.job(name="apply_retention", description="Apply the per-table retention policy (TDS_RETENTION_*).",
            tags=lane_tags(Lane.RETENTION), executor_def=dg.in_process_executor)
    def apply_retention_job() -> None:
        apply_retention_policy()

    return apply_retention_job


def build_retention_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="retention_daily", job=job, cron_schedule=RETENTION_CRON, execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Once a day: drop what the retention policy no longer keeps.",
    )
