"""`tds alerts`: the open alerts, then the ones seen or resolved recently.

Reads tds.alerts only; it never opens, resolves or sends an alert.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from sqlalchemy.exc import ProgrammingError

from tds_platform.alerting.model import AlertRecord
from tds_platform.alerting.store import AlertStore
from tds_platform.cli.db import database_option
from tds_platform.cli.errors import user_errors
from tds_platform.db.engine import engine_for
from tds_platform.settings import PlatformSettings


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def _line(alert: AlertRecord) -> str:
    state = "OPEN" if alert.is_open else "resolved"
    return (f"{state:<8}  {alert.severity.value:<8}  {_when(alert.opened_at)}  {_when(alert.resolved_at):<20}  "
            f"{alert.subject} — {alert.message}")


@click.command("alerts")
@database_option
@click.option("--hours", type=float, default=24.0, show_default=True,
              help="Also show alerts seen or resolved within this many hours.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@user_errors
def alerts(database_url: str | None, hours: float, limit: int) -> None:
    """List open alerts first, then recent ones (newest first)."""
    url = PlatformSettings(database_url=database_url).resolved_database_url()
    since = datetime.now(UTC) - timedelta(hours=hours)
    try:
        records = AlertStore(engine_for(url)).recent(since, limit)
    except ProgrammingError as exc:
        raise click.ClickException("tds.alerts does not exist in this database; run `tds db upgrade` first") from exc
    if not records:
        click.echo(f"no open alerts, none in the last {hours:g} h")
        return
    click.echo(f"{'state':<8}  {'severity':<8}  {'opened':<20}  {'resolved':<20}  subject — message")
    for record in records:
        click.echo(_line(record))
    open_count = sum(record.is_open for record in records)
    click.echo(f"{open_count} open, {len(records) - open_count} resolved (last {hours:g} h)")
