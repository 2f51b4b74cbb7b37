"""The session's database clusters in the shape we ship, and URLs for each service login.

Every cluster is set up the way the timescaledb image and compose set up production: the extension,
then the shipped logins script (password logins, no service a superuser), then the migrations run
as `tds_owner`. Tests connect as the login of the service they exercise (`tds_ingest` for the writer,
`tds_dagster` for Dagster, dbt and the CLI); only fixtures set up and inspect as the superuser.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from tds_platform.db import migrate
from tds_platform.db.engine import engine_for
from tds_platform.stack.layout import StackLayout, free_port
from tds_platform.stack.postgres import SUPERUSER, LocalPostgres, full_edition_installed

TEMPLATE = "tds_template"
PLATFORM_LOGIN = "tds_dagster"

# Edition names as the stack and the platform's edition detection spell them.
TIMESCALE_EDITIONS = ("full", "apache") if full_edition_installed() else ("apache",)
DEFAULT_EDITION = TIMESCALE_EDITIONS[0]  # the edition production runs, where this machine has it
FULL_EDITION_MISSING = (
    "TimescaleDB full edition: not installed on this machine, so edition-dependent tests ran on the Apache "
    "edition and plain PostgreSQL only (DEVELOPERS.md says how to install a full build for local checks)"
)

_numbers = itertools.count(1)
_clusters_by_port: dict[int, LocalPostgres] = {}


def stack_root(prefix: str) -> Path:
    # Not pytest's tmp_path: its parent is mode 0700 and the postgres/mosquitto users must read it.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


def session_layout(prefix: str, edition: str) -> StackLayout:
    return StackLayout(root=stack_root(prefix), pg_port=free_port(), mqtt_port=free_port(),
                       mqtt_service_port=free_port(), edition=edition, durable=False)


@dataclass
class Cluster:
    """One started, provisioned cluster with a migrated template database that tests clone."""

    pg: LocalPostgres
    remove_root: bool = True
    databases: list[str] = field(default_factory=list)

    @property
    def edition(self) -> str:
        return self.pg.layout.edition

    def prepare(self) -> Cluster:
        """Provision like production, then migrate the template as the owner (~2 s once; a clone is ~50 ms)."""
        _clusters_by_port[self.pg.layout.pg_port] = self.pg
        self.pg.provision()
        self.pg.provision(TEMPLATE)
        owner_url = self.pg.url(TEMPLATE, "tds_owner")
        migrate.upgrade(owner_url)
        engine_for(owner_url).dispose()
        with psycopg.connect(self.pg.admin_url(), autocommit=True) as conn:
            # TimescaleDB's background workers connect to every database that allows it, and a
            # template with a session attached cannot be cloned.
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(TEMPLATE)))
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,))
        return self

    def new_database(self, prefix: str = "t") -> str:
        """A fresh migrated database owned by tds_owner; returns the platform login's URL to it."""
        name = f"{prefix}_{next(_numbers)}"
        with psycopg.connect(self.pg.admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER tds_owner").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)))
        return self.pg.url(name, PLATFORM_LOGIN)

    def stop(self) -> None:
        self.pg.stop()
        if self.remove_root:
            shutil.rmtree(self.pg.layout.root, ignore_errors=True)


def as_login(url: str, login: str) -> str:
    """The same database as `login`, with its password (`postgres`: the superuser, through the socket)."""
    parsed = make_url(url)
    pg = _clusters_by_port.get(parsed.port or 0)
    if pg is None:
        raise KeyError(f"{parsed.render_as_string()} is on no cluster of this test session")
    return pg.url(parsed.database or "postgres", login)


def admin_url(url: str) -> str:
    """The superuser on the same database: for fixtures that set up or inspect, never for a service."""
    return as_login(url, SUPERUSER)


def with_password(url: str, login: str, password: str) -> str:
    """The same database as a login a test made itself."""
    parsed = make_url(url)
    credentials = f"{quote(login, safe='')}:{quote(password, safe='')}"
    return f"postgresql://{credentials}@{parsed.host}:{parsed.port}/{parsed.database}"
