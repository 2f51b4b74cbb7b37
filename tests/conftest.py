"""Session fixtures: one real local stack (TimescaleDB + Mosquitto), one cluster per other edition.

Servers start once per test session on free ports under a temporary folder, so tests never collide
with a running `make up`, and are torn down at the end. Every cluster is set up as production is
(tests/servers.py): services log in with their own passwords, never as the superuser. Tests that
depend on the edition take `timescale_database` or `any_database`, which run them on every edition
this machine has: full and Apache TimescaleDB where a full build is installed, and plain PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tds_platform.stack import LocalStack
from tds_platform.stack.postgres import LocalPostgres
from tests.servers import DEFAULT_EDITION, FULL_EDITION_MISSING, TIMESCALE_EDITIONS, Cluster, session_layout


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "full" not in TIMESCALE_EDITIONS:
        terminalreporter.write_line(FULL_EDITION_MISSING, yellow=True, bold=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """Mosquitto and PostgreSQL 15 with TimescaleDB (the full edition where this machine has it)."""
    local = LocalStack(session_layout("tds-test-stack-", DEFAULT_EDITION))
    local.up()
    cluster = Cluster(local.postgres, remove_root=not os.environ.get("TDS_KEEP_TEST_STACK")).prepare()
    yield local
    local.broker.stop()
    cluster.stop()


def _cluster(prefix: str, edition: str) -> Iterator[Cluster]:
    pg = LocalPostgres(session_layout(prefix, edition))
    pg.start()
    cluster = Cluster(pg).prepare()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def apache_cluster() -> Iterator[Cluster]:
    """The Apache edition beside the full one (same binaries, `timescaledb.license = apache`)."""
    yield from _cluster("tds-test-apache-", "apache")


@pytest.fixture(scope="session")
def plain_postgres() -> Iterator[Cluster]:
    """A cluster without TimescaleDB, so the plain-PostgreSQL code path stays real."""
    yield from _cluster("tds-test-plain-", "none")


def cluster_of(request: pytest.FixtureRequest, edition: str) -> Cluster:
    if edition == "none":
        return request.getfixturevalue("plain_postgres")
    if edition == DEFAULT_EDITION:
        return Cluster(request.getfixturevalue("stack").postgres)
    return request.getfixturevalue("apache_cluster")


@pytest.fixture(scope="session")
def new_database(stack: LocalStack) -> Callable[[str], str]:
    """Factory: a fresh migrated database on the stack's cluster; returns tds_dagster's URL to it."""
    return Cluster(stack.postgres).new_database


@pytest.fixture(scope="session")
def new_plain_database(plain_postgres: Cluster) -> Callable[[str], str]:
    """Factory: a fresh migrated plain-PostgreSQL database; returns tds_dagster's URL to it."""
    return plain_postgres.new_database


@pytest.fixture(params=TIMESCALE_EDITIONS)
def timescale_database(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each TimescaleDB edition this machine has (tds_dagster's URL)."""
    return cluster_of(request, request.param).new_database(request.param[:2])


@pytest.fixture(params=[*TIMESCALE_EDITIONS, "none"])
def any_database(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on every edition this machine has, plain PostgreSQL included."""
    return cluster_of(request, request.param).new_database(request.param[:2])


@pytest.fixture
def database_url(new_database: Callable[[str], str]) -> str:
    """A fresh migrated TimescaleDB database for one test (tds_dagster's URL)."""
    return new_database("t")
