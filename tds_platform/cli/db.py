"""`tds db upgrade | current`: the one migration history of the platform's database."""

from __future__ import annotations

import click

from tds_platform.cli.errors import user_errors
from tds_platform.db import migrate
from tds_platform.db.edition import detect_edition_url
from tds_platform.db.urls import redact
from tds_platform.settings import PlatformSettings

database_option = click.option(
    "--database-url", envvar="TDS_DATABASE_URL", default=None,
    help="postgresql://... (default: the local stack's tds database).",
)


@click.group("db")
def db() -> None:
    """Migrate and inspect the platform database."""


@db.command("upgrade")
@database_option
@click.option("--revision", default="head", show_default=True)
@user_errors
def upgrade(database_url: str | None, revision: str) -> None:
    """Apply migrations up to REVISION (idempotent: re-running is a no-op)."""
    url = PlatformSettings(database_url=database_url).resolved_database_url()
    migrate.upgrade(url, revision)
    click.echo(f"{redact(url)} at revision {migrate.current(url)} "
               f"(timescaledb edition: {detect_edition_url(url).value})")


@db.command("current")
@database_option
@user_errors
def current(database_url: str | None) -> None:
    """The revision the database is at, and the newest one this code knows."""
    url = PlatformSettings(database_url=database_url).resolved_database_url()
    click.echo(f"current: {migrate.current(url) or 'empty (run `tds db upgrade`)'}")
    click.echo(f"head:    {migrate.head()}")
