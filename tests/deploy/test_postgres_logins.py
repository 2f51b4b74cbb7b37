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


def test_grafana_reads_freshness_and_writes_nothing(compose_database: LocalPostgres) -> None:
    with psycopg.connect(compose_database.url("tds", "tds_dagster")) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, last_seen)"
                     " VALUES ('acme', 'chiller-1', now() - interval '90 seconds')")
    queries = [target["rawSql"] for panel in json.loads(DASHBOARD.read_text())["panels"]
               for target in panel.get("targets", []) if "rawSql" in target]
    with psycopg.connect(compose_database.url("tds", "tds_grafana")) as conn:
        for query in queries:
            assert conn.execute(query).fetchall()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("INSERT INTO tds.equipment (tenant, equipment) VALUES ('x', 'y')")


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
