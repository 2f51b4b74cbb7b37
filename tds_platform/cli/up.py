"""`tds up` and `tds down`: the whole platform in the foreground, stopped by Ctrl-C."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import click

from tds_platform.cli.errors import user_errors
from tds_platform.cli.stack import edition_option, load_layout, stack_dir_option
from tds_platform.db import migrate
from tds_platform.db.edition import detect_edition_url
from tds_platform.db.urls import redact
from tds_platform.run.platform import PlatformPorts, alert_file, platform_services
from tds_platform.run.supervisor import Supervisor, stop_recorded
from tds_platform.stack import LocalStack, StackError, StackLayout
from tds_platform.stack.processes import pid_alive, port_open, read_pid, wait_for_exit

UP_PID = "tds-up.owner"
ONE_SHOT = {"simulator", "kickoff"}  # exiting 0 is their job done


def _check_ports(ports: PlatformPorts) -> None:
    for port, what in ((ports.ui, "--ui-port"), (ports.first_writer_http, "--writer-port"),
                       (ports.first_writer_http + 1, "--writer-port")):
        if port_open(port):
            raise StackError(f"port {port} is already in use (another `tds up`?); stop it or pass {what}")


@click.command("up")
@stack_dir_option
@click.option("--ui-port", type=int, default=3000, show_default=True, help="Dagster UI port.")
@click.option("--writer-port", type=int, default=9108, show_default=True,
              help="Health/metrics port of the first writer (the second uses the next one).")
@click.option("--history", default="6h", show_default=True, help="Past data the simulator publishes at start.")
@click.option("--no-dagster", is_flag=True, help="Stack, writers and simulator only.")
@click.option("--pg-port", type=int, default=None, help="PostgreSQL port (default: the stack's, else 55432).")
@click.option("--mqtt-port", type=int, default=None, help="Mosquitto port for devices (default: the stack's, "
              "else 51883).")
@click.option("--mqtt-service-port", type=int, default=None, help="Mosquitto port for the writers and the platform "
              "(default: the stack's, else the device port + 1).")
@edition_option
@user_errors
def up(stack_dir: Path, ui_port: int, writer_port: int, history: str, no_dagster: bool, pg_port: int | None,
       mqtt_port: int | None, mqtt_service_port: int | None, edition: str | None) -> None:
    """Start the stack, migrate, and run writers, simulator and Dagster until Ctrl-C."""
    ports = PlatformPorts(ui=ui_port, first_writer_http=writer_port)
    _check_ports(ports)
    layout = load_layout(stack_dir, edition)
    layout = dataclasses.replace(layout, pg_port=pg_port or layout.pg_port, mqtt_port=mqtt_port or layout.mqtt_port,
                                 mqtt_service_port=mqtt_service_port or layout.mqtt_service_port)
    local = LocalStack(layout)
    click.echo("starting PostgreSQL+TimescaleDB and Mosquitto ...")
    local.up()
    supervisor = Supervisor(local.layout.root / "run")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    owner = supervisor.run_dir / UP_PID
    owner.write_text(f"{os.getpid()}\n")
    try:
        url = local.database_url()
        migrate.upgrade(local.database_url(login="tds_owner"))
        for service in platform_services(local, ports, history=history, with_dagster=not no_dagster):
            supervisor.start(service)
        _print_where_to_look(local, ports, url, supervisor, no_dagster)
        while True:
            for name, code in supervisor.exited().items():
                if name not in ONE_SHOT or code != 0:
                    click.echo(f"{name} exited with code {code}; see {supervisor.log_path(name)}", err=True)
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("\nstopping ... (Ctrl-C again is ignored until everything has stopped)")
    finally:
        # An impatient second Ctrl-C used to abort the cleanup half-way and leave every service running.
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, signal.SIG_IGN)
        supervisor.stop_all()
        local.down()
        owner.unlink(missing_ok=True)
        click.echo("stopped")


def _print_where_to_look(local: LocalStack, ports: PlatformPorts, url: str, supervisor: Supervisor,
                         no_dagster: bool) -> None:
    edition = detect_edition_url(url).value
    click.echo(f"database     {redact(url)}  (TimescaleDB edition: {edition}, revision {migrate.current(url)})")
    click.echo(f"psql         psql \"$(tds stack url)\"   (logins and passwords: {local.layout.pg_logins})")
    click.echo(f"broker       devices mqtt://127.0.0.1:{local.layout.mqtt_port}, services :{local.layout.service_port}"
               f"  (accounts: {local.broker.credentials_file})")
    for n in (0, 1):
        click.echo(f"writer-{n + 1}     http://127.0.0.1:{ports.first_writer_http + n}/health   .../metrics")
    if not no_dagster:
        click.echo(f"Dagster UI   http://127.0.0.1:{ports.ui}   (asset lineage, checks, schedules, backfills)")
        click.echo(f"alerts       {alert_file(local)}   (every notification, one JSON line: tail -f it; "
                   "`tds alerts` lists them)")
    click.echo(f"logs         {supervisor.run_dir}/*.log")
    click.echo("status       tds status   (in another shell)")
    click.echo("running — press Ctrl-C to stop everything")


@click.command("down")
@stack_dir_option
@user_errors
def down(stack_dir: Path) -> None:
    """Stop whatever `tds up` started (from another shell), then the stack."""
    layout = StackLayout.load(stack_dir.absolute())
    owner = read_pid(layout.root / "run" / UP_PID)
    if owner is not None and pid_alive(owner):
        # The foreground `tds up` stops its own children and the stack, as on Ctrl-C.
        os.kill(owner, signal.SIGTERM)
        wait_for_exit(owner, 60)
    stopped = stop_recorded(layout.root / "run")
    LocalStack(layout).down()
    click.echo(f"stopped {', '.join([*stopped, 'stack'])}")
