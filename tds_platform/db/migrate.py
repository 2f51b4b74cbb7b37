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


def upgrade(url: str, revision: str = "head") -> None:
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
    """The revision the database is at; None for an empty database."""
    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table_schema": "public"}).get_current_revision()


def head() -> str | None:
    """The newest revision this code knows (the history is one line: a second head is an error)."""
    return ScriptDirectory.from_config(alembic_config("postgresql://localhost/x")).get_current_head()
