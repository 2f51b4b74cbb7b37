"""The role model on every edition: what each login may do, and how an older database comes over.

Dagster's group owns the rollups it refreshes (TimescaleDB refreshes and drops chunks only for an
owner); the readings stay the owner's, and Dagster drops their expired chunks through one function.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors, sql
from sqlalchemy.exc import DBAPIError

from tds_platform.db import migrate
from tds_platform.db.edition import Edition, detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.rollups.sql import CAGG_REFRESH
from tests.conftest import cluster_of
from tests.servers import TIMESCALE_EDITIONS, admin_url, as_login

ROLLUP_STORAGE = ("telemetry_1m_data", "telemetry_1h_data", "telemetry_1d_data")
OWNERS = ("SELECT relname, relowner::regrole::text FROM pg_class"
          " WHERE relnamespace = 'tds'::regnamespace AND relname = ANY(%s)")


def owners(url: str, *relations: str) -> dict[str, str]:
    with psycopg.connect(admin_url(url)) as conn:
        return dict(conn.execute(OWNERS, [list(relations)]).fetchall())


def test_dagster_owns_the_rollups_and_only_reads_and_writes_the_readings(any_database: str) -> None:
    assert owners(any_database, *ROLLUP_STORAGE, "telemetry_raw") == {
        **dict.fromkeys(ROLLUP_STORAGE, "tds_platform"), "telemetry_raw": "tds_owner"}
    with psycopg.connect(any_database, autocommit=True) as conn:
        for statement in ("ALTER TABLE tds.telemetry_raw ADD COLUMN note text", "DROP TABLE tds.telemetry_raw",
                          "TRUNCATE tds.telemetry_raw", "DROP VIEW tds.telemetry"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_chunk_function_drops_only_readings_and_rollups_and_only_for_dagster(timescale_database: str) -> None:
    with psycopg.connect(timescale_database, autocommit=True) as conn:
        nothing = conn.execute("SELECT count(*) FROM tds.drop_expired_chunks('tds.telemetry_raw', now())")
        assert nothing.fetchone() == (0,)
        with pytest.raises(errors.InsufficientPrivilege, match="readings and the rollups only"):
            conn.execute("SELECT * FROM tds.drop_expired_chunks('tds.dlq', now())")
    with psycopg.connect(as_login(timescale_database, "tds_ingest"), autocommit=True) as conn, \
            pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM tds.drop_expired_chunks('tds.telemetry_raw', now())")


def _older_release_database(request: pytest.FixtureRequest, edition: str) -> tuple[str, str]:
    """A database as a release before 0006 left it: at 0005, the rollups the owner's."""
    cluster = cluster_of(request, edition)
    name = f"older_{edition}_{uuid.uuid4().hex[:6]}"
    cluster.pg.provision(name)
    owner_url = cluster.pg.url(name, "tds_owner")
    migrate.upgrade(owner_url, "0005")
    kind = "MATERIALIZED VIEW" if edition == "full" else "TABLE"
    with psycopg.connect(cluster.pg.admin_url(name), autocommit=True) as conn:
        for relation in ROLLUP_STORAGE:
            conn.execute(sql.SQL(f"ALTER {kind} {{}} OWNER TO tds_owner").format(sql.Identifier("tds", relation)))
    return name, owner_url


@pytest.mark.parametrize("edition", [*TIMESCALE_EDITIONS, "none"])
def test_a_database_an_older_release_made_is_brought_over(edition: str, request: pytest.FixtureRequest) -> None:
    name, owner_url = _older_release_database(request, edition)
    if edition == "full":
        # Only a superuser can give a continuous aggregate away: the migration says who must.
        with pytest.raises(DBAPIError, match="db-roles"):
            migrate.upgrade(owner_url)
        assert migrate.current(owner_url) == "0005", "nothing of the failed upgrade stays"
        cluster_of(request, edition).pg.provision(name)  # compose's db-roles service, before `migrate`
    migrate.upgrade(owner_url)
    platform_url = as_login(owner_url, "tds_dagster")
    assert owners(platform_url, *ROLLUP_STORAGE) == dict.fromkeys(ROLLUP_STORAGE, "tds_platform")
    if detect_edition_url(platform_url) is Edition.FULL:
        with engine_for(platform_url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(CAGG_REFRESH, {"relation": "tds.telemetry_1m_data", "start": "2026-01-01",
                                        "end": "2026-01-02"})


def test_a_migrating_login_outside_tds_platform_is_told_what_to_run(request: pytest.FixtureRequest) -> None:
    cluster = cluster_of(request, TIMESCALE_EDITIONS[-1])
    suffix = uuid.uuid4().hex[:6]
    login, name = f"legacy_owner_{suffix}", f"legacy_{suffix}"
    with psycopg.connect(cluster.pg.admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'legacy-pw'").format(sql.Identifier(login)))
        conn.execute(sql.SQL("GRANT pg_read_all_settings TO {}").format(sql.Identifier(login)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(login)))
    url = cluster.pg.url(name).replace(f"tds_dagster:{cluster.pg.logins()['tds_dagster']}", f"{login}:legacy-pw")
    try:
        with pytest.raises(DBAPIError, match=r"must be a member of tds_platform(.|\n)*10-tds-logins\.sh"):
            migrate.upgrade(url)
    finally:
        engine_for(url).dispose()
        with psycopg.connect(cluster.pg.admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
