"""`tds stack up | down | status`: the local PostgreSQL+TimescaleDB and Mosquitto."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from tds_platform.cli.errors import user_errors
from tds_platform.db.urls import redact
from tds_platform.stack import LocalStack, StackError, StackLayout
from tds_platform.stack.layout import DEFAULT_MQTT_PORT, DEFAULT_PG_PORT
from tds_platform.stack.postgres import best_edition

stack_dir_option = click.option(
    "--stack-dir", type=click.Path(path_type=Path), default=Path(".tds"), envvar="TDS_STACK_DIR",
    show_default=True, help="Folder that holds the local stack's data and config.",
)


edition_option = click.option(
    "--edition", type=click.Choice(["full", "apache", "none"]), default=None,
    help="TimescaleDB edition of a new stack (default: full when this machine has it, else apache; "
         "none = plain PostgreSQL). An existing stack keeps the edition it was made with.",
)


def load_layout(stack_dir: Path, edition: str | None) -> StackLayout:
    """The stack in `stack_dir`, or a new one on `edition` (default: the best this machine has)."""
    layout = StackLayout.load(stack_dir.absolute(), edition=edition or best_edition())
    if edition is not None and layout.edition != edition:
        raise StackError(f"the stack in {layout.root} runs the {layout.edition} edition; "
                         f"use another --stack-dir for {edition}")
    return layout


@click.group("stack")
def stack() -> None:
    """Run the local PostgreSQL+TimescaleDB and Mosquitto (never a system-wide server)."""


@stack.command("up")
@stack_dir_option
@click.option("--pg-port", type=int, default=DEFAULT_PG_PORT, show_default=True)
@click.option("--mqtt-port", type=int, default=DEFAULT_MQTT_PORT, show_default=True, help="for devices")
@click.option("--mqtt-service-port", type=int, default=None,
              help="for the writers and the platform  [default: --mqtt-port + 1]")
@edition_option
@user_errors
def up(stack_dir: Path, pg_port: int, mqtt_port: int, mqtt_service_port: int | None, edition: str | None) -> None:
    """Start both servers and wait until they accept connections."""
    layout = dataclasses.replace(load_layout(stack_dir, edition), pg_port=pg_port, mqtt_port=mqtt_port,
                                 mqtt_service_port=mqtt_service_port)
    local = LocalStack(layout)
    local.up()
    click.echo(f"PostgreSQL  {redact(local.database_url())}  (TimescaleDB edition: {layout.edition};"
               f" logins in {layout.pg_logins})")
    click.echo(f"Mosquitto   devices mqtt://127.0.0.1:{layout.mqtt_port}, services mqtt://127.0.0.1:"
               f"{layout.service_port}  (accounts in {local.broker.credentials_file})")


@stack.command("url")
@stack_dir_option
@click.option("--login", type=click.Choice(["tds_dagster", "tds_ingest", "tds_owner", "tds_grafana", "postgres"]),
              default="tds_dagster", show_default=True,
              help="Whose URL: the platform, the writer, the owner... (postgres: the superuser, through the socket)")
@click.option("--database", default="tds", show_default=True)
@user_errors
def url(stack_dir: Path, login: str, database: str) -> None:
    """Print a login's database URL with its password, e.g. psql "$(tds stack url)"."""
    layout = StackLayout.load(stack_dir.absolute())
    if not layout.pg_logins.exists():
        raise StackError(f"there is no local stack in {layout.root}: start one with `make up` or `tds stack up`")
    click.echo(LocalStack(layout).database_url(database, login))


@stack.command("down")
@stack_dir_option
@user_errors
def down(stack_dir: Path) -> None:
    """Stop what `up` started; the data folder stays for the next `up`."""
    LocalStack(StackLayout.load(stack_dir)).down()
    click.echo("local stack stopped")


@stack.command("status")
@stack_dir_option
@user_errors
def status(stack_dir: Path) -> None:
    """Each server's state, port, pid and version, and the TimescaleDB edition."""
    state = LocalStack(StackLayout.load(stack_dir)).status()
    rows = [
        ("postgresql", state.postgres.running, state.postgres.port, state.postgres.pid, state.postgres.version),
        ("mosquitto", state.broker.running, state.broker.port, state.broker.pid, state.broker.version),
    ]
    click.echo(f"{'component':<12}{'state':<10}{'port':<8}{'pid':<9}version")
    for name, running, port, pid, version in rows:
        click.echo(f"{name:<12}{'up' if running else 'down':<10}{port:<8}{pid or '-'!s:<9}{version or '-'}")
    click.echo(f"timescaledb edition: {state.edition or 'unknown (database down)'}")
    if not state.healthy:
        raise SystemExit(1)


@stack.group("user")
def user() -> None:
    """MQTT accounts of the local broker: a device account is a tenant id, or <tenant>~<device> for more
    connections of one tenant (an account's name is its client id: one connection each)."""


@user.command("add")
@click.argument("name")
@stack_dir_option
@user_errors
def add_user(name: str, stack_dir: Path) -> None:
    """Create account NAME (or keep it) and print its password."""
    click.echo(LocalStack(StackLayout.load(stack_dir)).broker.ensure_user(name))


@user.command("remove")
@click.argument("name")
@stack_dir_option
@user_errors
def remove_user(name: str, stack_dir: Path) -> None:
    """Revoke account NAME (service accounts cannot be removed)."""
    LocalStack(StackLayout.load(stack_dir)).broker.remove_user(name)
    click.echo(f"removed {name}")
