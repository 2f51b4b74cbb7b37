"""Observations of the landing tables through the real `observe_sources` job and a real instance."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

from tds_platform.defs import sources
from tds_platform.defs.resources import DatabaseResource


def observe(url: str, instance: dg.DagsterInstance) -> dict[str, dg.AssetObservation]:
    defs = dg.Definitions.merge(sources.build_defs(), dg.Definitions(resources={"database": DatabaseResource(url=url)}))
    result = defs.resolve_job_def("observe_sources").execute_in_process(instance=instance)
    assert result.success
    return {key: instance.fetch_observations(dg.AssetKey(key), limit=1).records[0].asset_observation
            for key in ("telemetry", "dlq")}


def test_observations_show_newest_rows_and_recent_counts(any_database: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(any_database) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment) VALUES ('acme', 'pump-1')")
        series = conn.execute("INSERT INTO tds.metric_spec (tenant, equipment, metric) "
                              "VALUES ('acme', 'pump-1', 'flow') RETURNING series_id").fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, 1)",
                            [(series, now - timedelta(minutes=m)) for m in (1, 2, 30, 120)])
            cur.executemany("INSERT INTO tds.dlq (received_at, topic, payload, reason, replayed_at) "
                            "VALUES (%s, 't', 'x', 'invalid_json', %s)",
                            [(now - timedelta(minutes=40), None), (now - timedelta(days=2), now)])

    with dg.DagsterInstance.ephemeral() as instance:
        seen = observe(any_database, instance)

    telemetry = seen["telemetry"]
    assert telemetry.metadata["newest_reading"].value == (now - timedelta(minutes=1)).isoformat()
    assert telemetry.metadata["rows_last_5m"].value == 2
    assert telemetry.metadata["rows_last_hour"].value == 3
    assert telemetry.tags["dagster/data_version"] == (now - timedelta(minutes=1)).isoformat()
    dlq = seen["dlq"]
    assert dlq.metadata["rows_last_hour"].value == 1
    assert dlq.metadata["rows_last_5m"].value == 0
    assert dlq.metadata["rows_pending"].value == 1


def test_empty_tables_are_observed_as_empty(database_url: str) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        seen = observe(database_url, instance)
    assert seen["telemetry"].metadata["newest_reading"].value == "none in the last 7 days"
    assert seen["dlq"].metadata["rows_last_hour"].value == 0
