"""Entry point of the `tds` command: one group, one sub-module per command family."""

from __future__ import annotations

import click

from tds_platform.cli.alerts import alerts
from tds_platform.cli.analysts import analysts
from tds_platform.cli.bench import bench
from tds_platform.cli.db import db
from tds_platform.cli.dlq import dlq
from tds_platform.cli.simulate import simulate
from tds_platform.cli.stack import stack
from tds_platform.cli.status import status
from tds_platform.cli.up import down, up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """TDS Platform: IoT telemetry from MQTT to TimescaleDB, run by Dagster."""


cli.add_command(stack)
cli.add_command(db)
cli.add_command(up)
cli.add_command(status)
cli.add_command(down)
cli.add_command(analysts)
cli.add_command(simulate)
cli.add_command(alerts)
cli.add_command(dlq)
cli.add_command(bench)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
