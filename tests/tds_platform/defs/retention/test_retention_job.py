"""The apply_retention job: what went is reported as observations of the assets it touched."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from tds_platform.db.edition import Edition, detect_edition_url
from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.retention.jobs import build_retention_job
from tds_platform.retention.policy import RetentionSettings
from tests.tds_platform.retention.test_apply_retention import DLQ_AGES, MINUTE_AGES, seed

D = timedelta(days=1)


def test_job_reports_what_was_dropped_on_the_assets(timescale_database: str) -> None:
    database_url = timescale_database
    seed(database_url)
    job = build_retention_job(RetentionSettings())
    with dg.DagsterInstance.ephemeral() as instance:
        started = datetime.now(UTC)
        result = job.execute_in_process(instance=instance, resources={"database": DatabaseResource(url=database_url)})
        finished = datetime.now(UTC)
        assert result.success
        observed = {event.asset_key.to_user_string(): event.metadata for event in result.asset_observations_for_node(
            "apply_retention_policy")}
        compression = next(event.event_specific_data.metadata for event in result.events_for_node(
            "compress_settled_chunks") if event.is_successful_output)
    assert set(observed) == {"telemetry", "telemetry_1m", "telemetry_1h", "telemetry_1d", "dlq"}
    assert observed["dlq"]["rows_deleted"].value == sum(not kept for kept in DLQ_AGES.values())
    assert observed["telemetry_1m"]["rows_deleted"].value == sum(not kept for kept in MINUTE_AGES.values())
    cutoff = datetime.fromisoformat(observed["telemetry"]["cutoff"].value)
    # The job cuts at its own "now" (not the seed's NOW, which a slow suite leaves minutes behind).
    assert started - 30 * D - timedelta(seconds=1) <= cutoff <= finished - 30 * D
    # After retention, the kept readings' chunks older than 3 days were compressed (full edition only).
    if detect_edition_url(database_url) is Edition.FULL:
        assert compression["chunks_compressed"].value == 1  # the chunk of the reading kept at 30 days - 1 s
    else:
        assert compression["compression"].value.startswith("unavailable")
