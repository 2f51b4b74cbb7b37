"""`tds status`: broker, writers, database, data freshness, alerts, DLQ and quality on one screen."""

from __future__ import annotations

import click

from tds_platform.cli.errors import user_errors
from tds_platform.settings import PlatformSettings
from tds_platform.status.collect import collect
from tds_platform.status.render import render


@click.command("status")
@click.option("--database-url", envvar="TDS_DATABASE_URL", default=None, help="default: the local stack's")
@click.option("--mqtt-url", envvar="TDS_MQTT_URL", default=None, help="default: the local stack's broker")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@user_errors
def status(database_url: str | None, mqtt_url: str | None, as_json: bool) -> None:
    """Broker, writers, database, freshness, alerts, DLQ and quality on one screen.

    Exit code 0 when broker, database and at least one writer are healthy, else 1.
    """
    settings = PlatformSettings(database_url=database_url, mqtt_url=mqtt_url)
    state = collect(settings.resolved_database_url(), settings.resolved_mqtt_url())
    click.echo(state.as_json() if as_json else render(state))
    if not state.healthy:
        raise SystemExit(1)
