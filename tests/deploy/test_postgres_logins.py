"""The compose database's service logins: made by deploy/postgres/initdb, none a superuser.

A cluster of our own plays the timescaledb image: the extension created in `tds`, the shipped
logins script, then the migrations run as the owner login the `migrate` service uses. Every other
test cluster of the session is set up the same way (tests/servers.py); this module checks the
script itself, so it changes passwords on a cluster nobody else uses.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from tds_platform.db import migrate
from tds_platform.stack.postgres import LOGINS_SCRIPT, SERVICE_LOGINS, LocalPostgres
from tests.servers import DEFAULT_EDITION, Cluster, session_layout

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "provisioning" / "dashboards" / "tds-ingest.json"


def _init_environment(pg: LocalPostgres, passwords: dict[str, str]) -> dict[str, str]:
    """What the postgres image's entrypoint hands its init scripts (plus where our server is)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGHOST": str(pg.layout.pg_socket_dir), "PGPORT": str(pg.layout.pg_port),
        "POSTGRES_USER": "postgres", "POSTGRES_DB": "tds",
        **{f"TDS_DB_{login.removeprefix('tds_').upper()}_PASSWORD": pw for login, pw in passwords.items()},
    }


def _run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(LOGINS_SCRIPT)], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture(scope="module")
def compose_database() -> Iterator[LocalPostgres]:
    pg = LocalPostgres(session_layout("tds-test-compose-db-", DEFAULT_EDITION))
    pg.start()
    pg.provision()
    migrate.upgrade(pg.url("tds", "tds_owner"))
    yield pg
    Cluster(pg).stop()


def test_no_service_login_is_privileged(compose_database: LocalPostgres) -> None:
    with psycopg.connect(compose_database.admin_url()) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles"
            " WHERE rolname = ANY(%s) ORDER BY rolname", [list(SERVICE_LOGINS)]).fetchall()
    assert [row[0] for row in rows] == sorted(SERVICE_LOGINS)
    assert all(row[1:] == (False, False, False, False) for row in rows), rows


def test_migrations_ran_as_the_owner_login(compose_database: LocalPostgres) -> None:
    with psycopg.connect(compose_database.url("tds", "tds_owner")) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'tds'"
                             " AND tablename = 'telemetry_raw'").fetchone()
        assert owner == ("tds_owner",)
        assert migrate.current(compose_database.url("tds", "tds_owner")) == migrate.head()


def dashboard_queries() -> list[str]:
    return [target["rawSql"] for panel in json.loads(DASHBOARD.read_text())["panels"]
            for target in panel.get("targets", []) if "rawSql" in target]


# Raw readings, dead-letter payloads and everything else under tds/analytics: none of Grafana's business.
FORBIDDEN = ("SELECT * FROM tds.telemetry_raw", "SELECT payload FROM tds.dlq", "SELECT * FROM tds.telemetry",
             "SELECT * FROM tds.alerts", "SELECT * FROM tds.quality_hourly", "SELECT * FROM tds.metric_spec",
             "SELECT * FROM analytics.analyst_tenants")


def _seed_health(url: str) -> None:
    """One of everything a dashboard panel shows, written as Dagster/the writer would."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, last_seen)"
                     " VALUES ('acme', 'chiller-1', now() - interval '90 seconds')")
        series = conn.execute("INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s)"
                              " VALUES ('acme', 'chiller-1', 'temp', 10) RETURNING series_id").fetchone()[0]
        conn.execute("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, now(), 7.5)", (series,))
        conn.execute("INSERT INTO tds.dlq (topic, payload, reason)"
                     " VALUES ('tds/acme/x', 'secret bytes', 'invalid_json')")
        conn.execute("INSERT INTO tds.quality_hourly (hour, tenant, equipment, metric, expected, received, good,"
                     " coverage_pct, good_pct) VALUES (date_trunc('hour', now()) - interval '1 hour', 'acme',"
                     " 'chiller-1', 'temp', 360, 300, 290, 83.3, 96.7)")
        conn.execute("INSERT INTO tds.gaps (tenant, equipment, metric, gap_start)"
                     " VALUES ('acme', 'chiller-1', 'temp', now() - interval '20 minutes')")
        alert = conn.execute("INSERT INTO tds.alerts (kind, severity, dedup_key, subject, message, details)"
                             " VALUES ('quality_gap', 'warning', 'k', 's', 'm', '{\"tenant\": \"acme\"}')"
                             " RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO tds.alert_notifications (alert_id, transition, revision, sink, alert)"
                     " VALUES (%s, 'opened', 0, 'webhook', '{}')", (alert,))


def test_grafana_runs_every_dashboard_query_and_reads_no_readings_or_payloads(
    compose_database: LocalPostgres,
) -> None:
    _seed_health(compose_database.url("tds", "tds_dagster"))
    queries = dashboard_queries()
    assert any("dashboards.open_gaps" in q for q in queries) and any("dashboards.open_alerts" in q for q in queries)
    with psycopg.connect(compose_database.url("tds", "tds_grafana")) as conn:
        for query in queries:
            assert conn.execute(query).fetchall(), query
        for statement in (*FORBIDDEN, "INSERT INTO tds.equipment (tenant, equipment) VALUES ('x', 'y')"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_upgrading_an_older_deployment_takes_grafanas_wide_access_back(compose_database: LocalPostgres) -> None:
    """Before revision 0007 the init script let tds_grafana read every table the owner created."""
    with psycopg.connect(compose_database.admin_url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE tds_before_0007 OWNER tds_owner")
    with psycopg.connect(compose_database.admin_url("tds_before_0007"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
    owner = compose_database.url("tds_before_0007", "tds_owner")
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO tds_grafana")
        conn.execute("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO tds_grafana")
    migrate.upgrade(owner, "0005")
    grafana = compose_database.url("tds_before_0007", "tds_grafana")
    with psycopg.connect(grafana) as conn:
        conn.execute("SELECT payload FROM tds.dlq").fetchall()  # what the old deployment allowed
    migrate.upgrade(owner)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("CREATE TABLE tds.created_later (x int)")
    with psycopg.connect(grafana) as conn:
        for query in dashboard_queries():
            conn.execute(query).fetchall()
        for statement in (*FORBIDDEN, "SELECT * FROM tds.created_later"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_dagster_instance_uses_its_own_database(compose_database: LocalPostgres, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/dagster/dagster.yaml against the `dagster` database the init script made for tds_dagster."""
    from dagster import DagsterInstance

    config = (REPO / "deploy" / "dagster" / "dagster.yaml").read_text()
    (tmp_path / "dagster.yaml").write_text(config.replace("/opt/dagster/storage", str(tmp_path / "storage")))
    for name, value in {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(compose_database.layout.pg_port),
                        "DAGSTER_PG_USER": "tds_dagster",
                        "DAGSTER_PG_PASSWORD": compose_database.logins()["tds_dagster"],
                        "DAGSTER_PG_DB": "dagster"}.items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_runs() == []
    with psycopg.connect(compose_database.url("dagster", "tds_dagster")) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE tableowner = 'tds_dagster'")}
    assert {"runs", "event_logs"} <= tables


def test_init_script_refuses_missing_passwords(compose_database: LocalPostgres) -> None:
    env = _init_environment(compose_database, compose_database.logins())
    del env["TDS_DB_GRAFANA_PASSWORD"]
    result = _run_script(env)
    assert result.returncode != 0
    assert "set it in .env" in result.stderr


def test_the_script_runs_again_on_every_start_and_a_changed_password_takes_effect(
        compose_database: LocalPostgres) -> None:
    """Compose's db-roles service runs it before every migration: nothing fails the second time, and
    .env stays the truth about each login's password."""
    passwords = compose_database.logins()
    changed = {**passwords, "tds_dagster": "a-new-dagster-password"}
    result = _run_script(_init_environment(compose_database, changed))
    assert result.returncode == 0, result.stderr
    new_url = compose_database.url("tds", "tds_dagster").replace(passwords["tds_dagster"], changed["tds_dagster"])
    try:
        with psycopg.connect(new_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("tds_dagster",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(compose_database.url("tds", "tds_dagster"))
    finally:
        assert _run_script(_init_environment(compose_database, passwords)).returncode == 0
    with psycopg.connect(compose_database.url("tds", "tds_dagster")) as conn:
        assert conn.execute("SELECT pg_has_role('tds_owner', 'tds_platform', 'MEMBER')").fetchone() == (True,)
