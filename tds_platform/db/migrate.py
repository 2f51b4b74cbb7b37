"""Schema migrations: one Alembic history for the whole database, driven from Python.

`tds db upgrade` and the test fixtures call these; nothing else creates or alters tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tds_platform.db.engine import engine_for
from tds_platform.db.urls import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    config = alembic_config(url)
    with engine_for(url).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    config = alembic_config(url)
    with engine_for(url).begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def current(url: str) -> str | None:
    """The revision(s) the database is at, comma-separated; None for an empty database."""
    with engine_for(url).connect() as conn:
        heads = MigrationContext.configure(conn, opts={"version_table_schema": "public"}).get_current_heads()
    return ",".join(sorted(heads)) or None


def head() -> str:
    """The newest revision(s) this code knows."""
    return ",".join(sorted(ScriptDirectory.from_config(alembic_config("postgresql://localhost/x")).get_heads()))
