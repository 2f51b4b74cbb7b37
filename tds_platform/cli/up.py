"""`tds up` and `tds down`: the whole platform in the foreground, stopped by Ctrl-C."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click

from tds_platform.cli.errors import user_errors
from tds_platform.cli.stack import stack_dir_option
from tds_platform.db import migrate
from tds_platform.db.edition import detect_edition_url
from tds_platform.db.urls import redact
from tds_platform.run.supervisor import Supervisor, stop_recorded
from tds_platform.stack import LocalStack, StackLayout


@click.command("up")
@stack_dir_option
@user_errors
def up(stack_dir: Path) -> None:
    """Start the stack, migrate, and keep the platform running until Ctrl-C."""
    local = LocalStack(StackLayout.load(stack_dir.absolute()))
    click.echo("starting PostgreSQL+TimescaleDB and Mosquitto ...")
    local.up()
    url = local.database_url()
    migrate.upgrade(url)
    supervisor = Supervisor(local.layout.root / "run")
    click.echo(f"database   {redact(url)}  (edition: {detect_edition_url(url).value}, revision {migrate.current(url)})")
    click.echo(f"broker     mqtt://127.0.0.1:{local.layout.mqtt_port}")
    click.echo(f"psql       psql {redact(url)}")
    click.echo("running — press Ctrl-C to stop everything")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            for name, code in supervisor.exited().items():
                click.echo(f"{name} exited with code {code}; see {supervisor.log_path(name)}")
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        supervisor.stop_all()
        local.down()
        click.echo("stopped")


@click.command("down")
@stack_dir_option
@user_errors
def down(stack_dir: Path) -> None:
    """Stop whatever `tds up` started (from another shell), then the stack."""
    layout = StackLayout.load(stack_dir.absolute())
    stopped = stop_recorded(layout.root / "run")
    LocalStack(layout).down()
    click.echo(f"stopped {', '.join([*stopped, 'stack'])}")
