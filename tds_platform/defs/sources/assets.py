"""The landing tables in the asset graph: observable sources `telemetry` and `dlq`, and the registry.

The stream writer fills these tables, not Dagster: observations only look (newest time, recent
counts) so the UI shows whether the stream is alive; nothing here may write to them.
"""

from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import TextClause

from tds_platform.defs.resources import DatabaseResource
from tds_platform.landing.observations import DLQ, TELEMETRY, observe

LANDING = "landing"


def observed_source(name: str, query: TextClause, newest_label: str, description: str) -> dg.SourceAsset:
    """A landing table as an observable source: its newest row is its data version (so downstream
    rollups show stale until refreshed) and its recent counts are the metadata."""
    @dg.observable_source_asset(name=name, group_name=LANDING, kinds={"timescaledb"}, description=description)
    def landing_table(database: DatabaseResource) -> dg.ObserveResult:
        seen = observe(database.engine(), query, datetime.now(UTC))
        return dg.ObserveResult(data_version=dg.DataVersion(seen.data_version()), metadata=seen.metadata(newest_label))

    return landing_table


telemetry = observed_source(
    "telemetry", TELEMETRY, "newest_reading",
    "tds.telemetry: every reading landed by the stream writer (view over tds.telemetry_raw).")
dlq = observed_source("dlq", DLQ, "newest_received",
                      "tds.dlq: messages the stream writer could not land, with their original bytes.")

equipment = dg.AssetSpec(
    "equipment", group_name=LANDING, kinds={"timescaledb"},
    description="tds.equipment: the equipment registry (rows appear on first sight; editable).",
)
metric_spec = dg.AssetSpec(
    "metric_spec", group_name=LANDING, kinds={"timescaledb"}, deps=[equipment],
    description="tds.metric_spec: one row per series with unit, expected interval and valid range.",
)

observe_sources_job = dg.define_asset_job(
    "observe_sources", selection=[telemetry, dlq], executor_def=dg.in_process_executor,  # two quick queries
    description="Observe the landing tables (newest rows, counts).",
)
observe_sources_schedule = dg.ScheduleDefinition(
    name="observe_sources", job=observe_sources_job, cron_schedule="*/5 * * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 5 minutes: record whether telemetry and dead letters are still arriving.",
)
