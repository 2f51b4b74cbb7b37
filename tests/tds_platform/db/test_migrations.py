"""The migration history on both editions, and the roles' privileges (real servers)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors

from tds_platform.db import migrate
from tds_platform.db.edition import Edition, detect_edition_url
from tests.conftest import cluster_of
from tests.servers import TIMESCALE_EDITIONS, admin_url, as_login

CONTRACT_COLUMNS = {
    "telemetry": ["ts", "tenant", "site", "equipment", "metric", "value", "value_text", "unit",
                  "quality", "ingested_at"],
    "dlq": ["id", "received_at", "topic", "payload", "reason", "detail", "instance", "replayed_at",
            "replay_result"],
    "telemetry_1m": ["bucket", "tenant", "site", "equipment", "metric", "n", "min", "max", "avg",
                     "sum", "first", "last"],
    "quality_hourly": ["hour", "tenant", "site", "equipment", "metric", "expected", "received",
                       "good", "coverage_pct", "good_pct", "gap_count", "longest_gap_s"],
    "gaps": ["tenant", "equipment", "metric", "gap_start", "gap_end", "duration_s", "detected_at",
             "backfill_status"],
    "alerts": ["kind", "severity", "dedup_key", "subject", "message", "opened_at", "last_seen_at",
               "resolved_at"],
}


def _columns(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'tds' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("edition", [*TIMESCALE_EDITIONS, "none"])
def test_upgrade_empty_database_then_rerun_is_clean(edition: str, request: pytest.FixtureRequest) -> None:
    """As compose does it: the image's database (extension created, logins script run), then the
    migrate service as tds_owner, twice."""
    cluster = cluster_of(request, edition)
    name = f"empty_{edition}"
    cluster.pg.provision(name)
    url = cluster.pg.url(name, "tds_owner")
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert detect_edition_url(url) is Edition(edition)


def test_telemetry_is_a_hypertable_with_timescaledb(new_database: Callable[[str], str]) -> None:
    url = new_database("ht")
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema='tds'"
        ).fetchall()
    assert ("telemetry_raw",) in names


def test_contract_columns_exist_on_both_editions(any_database: str) -> None:
    for table, expected in CONTRACT_COLUMNS.items():
        columns = _columns(any_database, table)
        assert columns[: len(expected)] == expected or set(expected) <= set(columns), table


def test_downgrade_removes_everything_and_upgrade_restores(any_database: str) -> None:
    owner = as_login(any_database, "tds_owner")
    migrate.downgrade(owner, "base")
    assert migrate.current(owner) is None
    assert _columns(owner, "telemetry") == []
    migrate.upgrade(owner)
    assert _columns(any_database, "telemetry") == CONTRACT_COLUMNS["telemetry"]


def test_writer_login_lands_rows_but_cannot_delete(any_database: str) -> None:
    with psycopg.connect(as_login(any_database, "tds_ingest"), autocommit=True) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, site) VALUES ('a', 'ch-1', 's')")
        series_id = conn.execute(
            "INSERT INTO tds.metric_spec (tenant, equipment, metric) VALUES ('a', 'ch-1', 'temp') "
            "RETURNING series_id"
        ).fetchone()[0]
        conn.execute("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, now(), 1.5)", (series_id,))
        conn.execute("INSERT INTO tds.dlq (topic, payload, reason) VALUES ('t', '\\x00'::bytea, 'x')")
        for statement in ("DELETE FROM tds.telemetry_raw", "DELETE FROM tds.dlq",
                          "UPDATE tds.telemetry_raw SET value = 0", "DROP TABLE tds.telemetry_raw",
                          "SELECT value FROM tds.telemetry_raw"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_analyst_role_cannot_read_tds(any_database: str) -> None:
    with psycopg.connect(admin_url(any_database), autocommit=True) as admin:
        admin.execute("CREATE TABLE analytics.example AS SELECT 1 AS x")
        admin.execute("GRANT SELECT ON analytics.example TO tds_analyst")
        admin.execute("SET ROLE tds_analyst")
        assert admin.execute("SELECT x FROM analytics.example").fetchone() == (1,)
        for table in ("telemetry", "telemetry_raw", "dlq", "equipment"):
            with pytest.raises(errors.InsufficientPrivilege):
                admin.execute(f"SELECT 1 FROM tds.{table} LIMIT 1")


def test_dashboards_login_reads_the_views_only(any_database: str) -> None:
    with psycopg.connect(as_login(any_database, "tds_grafana"), autocommit=True) as conn:
        for view in ("equipment_freshness", "quality_hourly", "equipment_quality_24h", "tenant_quality_24h",
                     "open_gaps", "open_alerts", "alert_delivery"):
            conn.execute(f"SELECT * FROM dashboards.{view}").fetchall()
        for table in ("telemetry", "telemetry_raw", "dlq", "alerts", "alert_notifications"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM tds.{table} LIMIT 1")
    with psycopg.connect(admin_url(any_database), autocommit=True) as conn:
        conn.execute("SET ROLE tds_analyst")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM dashboards.open_alerts")
