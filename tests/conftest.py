"""Session fixtures: one real local stack (TimescaleDB + Mosquitto) and one plain PostgreSQL.

Servers start once per test session on free ports under a temporary folder, so tests never
collide with a running `make up`, and are torn down at the end.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tds_platform.db import migrate
from tds_platform.db.engine import engine_for
from tds_platform.stack import LocalStack, StackLayout
from tds_platform.stack.layout import free_port
from tds_platform.stack.postgres import LocalPostgres

TEMPLATE = "tds_template"
_database_numbers = itertools.count(1)


def _stack_root(prefix: str) -> Path:
    # Not pytest's tmp_path: its parent is mode 0700 and the postgres/mosquitto users must read it.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


def _admin_url(pg: LocalPostgres) -> str:
    return pg.url("postgres")


def _make_template(pg: LocalPostgres) -> None:
    """A migrated database that tests clone: CREATE DATABASE ... TEMPLATE is ~50 ms."""
    with psycopg.connect(_admin_url(pg), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrate.upgrade(pg.url(TEMPLATE))
    engine_for(pg.url(TEMPLATE)).dispose()
    with psycopg.connect(_admin_url(pg), autocommit=True) as conn:
        # TimescaleDB's background scheduler connects to every database that allows it, and a
        # template with a session attached cannot be cloned.
        conn.execute(f'ALTER DATABASE "{TEMPLATE}" WITH ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,))


def _database_factory(pg: LocalPostgres) -> Callable[[str], str]:
    def create(prefix: str = "t") -> str:
        name = f"{prefix}_{next(_database_numbers)}"
        with psycopg.connect(_admin_url(pg), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return pg.url(name)

    return create


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """PostgreSQL 15 + TimescaleDB (Apache edition here) and Mosquitto, for the whole session."""
    root = _stack_root("tds-test-stack-")
    local = LocalStack(StackLayout(root=root, pg_port=free_port(), mqtt_port=free_port(),
                                   mqtt_service_port=free_port(), durable=False))
    local.up()
    _make_template(local.postgres)
    yield local
    local.down()
    if not os.environ.get("TDS_KEEP_TEST_STACK"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def plain_postgres() -> Iterator[LocalPostgres]:
    """A second cluster without TimescaleDB, so the plain-PostgreSQL code path stays real."""
    root = _stack_root("tds-test-plain-")
    pg = LocalPostgres(StackLayout(root=root, pg_port=free_port(), with_timescaledb=False, durable=False))
    pg.start()
    _make_template(pg)
    yield pg
    pg.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(stack: LocalStack) -> Callable[[str], str]:
    """Factory: a fresh, migrated TimescaleDB database per call (returns its URL)."""
    return _database_factory(stack.postgres)


@pytest.fixture(scope="session")
def new_plain_database(plain_postgres: LocalPostgres) -> Callable[[str], str]:
    """Factory: a fresh, migrated plain-PostgreSQL database per call (returns its URL)."""
    return _database_factory(plain_postgres)


@pytest.fixture(params=["timescaledb", "postgres"])
def any_database(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each edition tested here (Apache TimescaleDB, plain PG)."""
    factory_name = "new_database" if request.param == "timescaledb" else "new_plain_database"
    factory: Callable[[str], str] = request.getfixturevalue(factory_name)
    return factory(request.param[:2])


@pytest.fixture
def database_url(new_database: Callable[[str], str]) -> str:
    """A fresh migrated TimescaleDB database for one test."""
    return new_database("t")
