"""`tds analysts create | list`: database logins for analysts, each restricted to one tenant's marts.

Passwords are hashed (SCRAM) before they leave this process and are never logged; a generated
password is shown once, on stdout, to the person who created the login.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import click
import psycopg.errors
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from tds_platform.cli.db import database_option
from tds_platform.cli.errors import user_errors
from tds_platform.db.engine import engine_for
from tds_platform.settings import PlatformSettings

# A conservative role name: no quoting surprises for analysts typing it into a SQL client.
LOGIN_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,62}")
MIN_PASSWORD_LENGTH = 8

# Migration 0004: creates the login in role tds_analyst and maps it to the tenant.
CREATE_ANALYST = "SELECT tds.create_analyst(:login, :tenant, :password_hash)"
TENANT_KNOWN = "SELECT EXISTS (SELECT FROM tds.equipment WHERE tenant = :tenant)"
LIST_ANALYSTS = "SELECT login, tenant, created_at FROM analytics.analyst_tenants ORDER BY tenant, login"


@click.group("analysts")
def analysts() -> None:
    """Analyst logins: read-only on the analytics marts, one tenant each."""


@analysts.command("create")
@click.option("--tenant", required=True, help="The tenant whose rows this analyst may see.")
@click.option("--name", "login", required=True, help="Database login name for the analyst.")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="File whose first line is the password (default: generate one and print it once).")
@database_option
@user_errors
def create(tenant: str, login: str, password_file: Path | None, database_url: str | None) -> None:
    """Create a login that reads the analytics marts of TENANT only (row-level security)."""
    if not LOGIN_PATTERN.fullmatch(login):
        raise click.ClickException(
            f"--name {login!r} is not a usable login: use letters, digits, '_', '.' or '-', starting with a letter"
        )
    if not tenant.strip():
        raise click.ClickException("--tenant must not be empty")
    password = _read_password(password_file) if password_file else secrets.token_urlsafe(18)
    url = PlatformSettings(database_url=database_url).resolved_database_url()
    with engine_for(url).begin() as conn:
        known = conn.execute(text(TENANT_KNOWN), {"tenant": tenant}).scalar_one()
        _create(conn, login, tenant, password)
    click.echo(f"created analyst {login!r} for tenant {tenant!r}: reads schema analytics, own tenant only")
    if not known:
        click.echo(f"note: no equipment of tenant {tenant!r} is registered yet, so the marts show it nothing so far")
    if not password_file:
        click.echo(f"password (shown once): {password}")


@analysts.command("list")
@database_option
@user_errors
def list_(database_url: str | None) -> None:
    """Analyst logins and the tenant each may see."""
    url = PlatformSettings(database_url=database_url).resolved_database_url()
    with engine_for(url).connect() as conn:
        rows = conn.execute(text(LIST_ANALYSTS)).all()
    if not rows:
        click.echo("no analysts yet: `tds analysts create --tenant T --name N`")
    for login, tenant, created_at in rows:
        click.echo(f"{login}\t{tenant}\t{created_at:%Y-%m-%d %H:%M}")


def _read_password(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    password = lines[0].strip() if lines else ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password in {path} must be at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _create(conn: Connection, login: str, tenant: str, password: str) -> None:
    """Hashes the password client-side so the server (and its statement log) never sees it."""
    pgconn = conn.connection.driver_connection.pgconn
    password_hash = pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
    try:
        conn.execute(text(CREATE_ANALYST), {"login": login, "tenant": tenant, "password_hash": password_hash})
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.errors.DuplicateObject):
            raise click.ClickException(f"a database role named {login!r} already exists; pick another --name") from exc
        if isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
            raise click.ClickException(
                "creating a database login takes an administrator, not the platform's own login: pass the "
                "superuser's URL with --database-url (local stack: "
                "--database-url \"$(tds stack url --login postgres)\")"
            ) from exc
        if isinstance(exc.orig, psycopg.errors.UndefinedFunction):
            raise click.ClickException("the database lacks analyst support; run `tds db upgrade` first") from exc
        raise
