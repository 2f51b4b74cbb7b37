"""Entry point of the `tds` command: one group, one sub-module per command family.

Sub-modules load only when their command runs: some import Dagster and the whole code location,
which must not make `tds status` or `tds stack up` wait seconds (or print Dagster's warnings).
"""

from __future__ import annotations

import importlib
import warnings

import click

# command name -> "module:attribute"
COMMANDS = {
    "stack": "tds_platform.cli.stack:stack",
    "db": "tds_platform.cli.db:db",
    "up": "tds_platform.cli.up:up",
    "down": "tds_platform.cli.up:down",
    "status": "tds_platform.cli.status:status",
    "alerts": "tds_platform.cli.alerts:alerts",
    "dlq": "tds_platform.cli.dlq:dlq",
    "analysts": "tds_platform.cli.analysts:analysts",
    "simulate": "tds_platform.cli.simulate:simulate",
    "bench": "tds_platform.cli.bench:bench",
}


class LazyGroup(click.Group):
    """click's documented lazy-loading group: a sub-command is imported when it is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """TDS Platform: IoT telemetry from MQTT to TimescaleDB, run by Dagster."""


def main() -> None:
    # Dagster marks some of the APIs the platform uses as beta/preview; that is our concern, not
    # the operator's, so the CLI does not print it.
    warnings.filterwarnings("ignore", module=r"dagster\..*")
    cli()


if __name__ == "__main__":
    main()
