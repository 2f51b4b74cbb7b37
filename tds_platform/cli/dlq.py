"""`tds dlq list | replay`: what the stream writer dead-lettered, and replaying it after a fix.

`replay` calls the same function as the `dlq_replay` Dagster job; nothing here deletes or rewrites
a dead letter's original bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy.exc import ProgrammingError

from ingest_stream.settings import ParsingSettings
from ingest_stream.store.writer import StoreUnavailableError
from tds_platform.cli.db import database_option
from tds_platform.cli.errors import user_errors
from tds_platform.db.engine import engine_for
from tds_platform.replay import dead_letters
from tds_platform.replay.replay import ReplaySelection, replay
from tds_platform.settings import PlatformSettings
from tds_platform.time_windows import parse_instant

NO_TABLE = "tds.dlq does not exist in this database; run `tds db upgrade` first"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _short(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("dlq")
def dlq() -> None:
    """Dead letters (tds.dlq): list them, replay them after a template or adapter fix."""


@dlq.command("list")
@database_option
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True, help="Newest rows to show.")
@user_errors
def list_dead_letters(database_url: str | None, limit: int) -> None:
    """Counts by reason (and replay outcome), then the newest dead letters."""
    engine = engine_for(PlatformSettings(database_url=database_url).resolved_database_url())
    try:
        with engine.connect() as conn:
            counts = dead_letters.counts_by_reason(conn)
            recent = dead_letters.newest(conn, limit) if limit else []
    except ProgrammingError as exc:
        raise click.ClickException(NO_TABLE) from exc
    if not counts:
        click.echo("no dead letters")
        return
    click.echo(f"{'reason':<20} {'total':>7} {'pending':>8} {'landed':>7} {'invalid':>8}  newest")
    for c in counts:
        click.echo(f"{c.reason:<20} {c.total:>7} {c.never_replayed:>8} {c.landed:>7} {c.still_invalid:>8}  "
                   f"{_when(c.newest)}")
    if recent:
        click.echo("")
        click.echo(f"{'id':>8}  {'received':<20}  {'reason':<18}  {'topic':<40}  replay / detail")
        for r in recent:
            click.echo(f"{r.id:>8}  {_when(r.received_at):<20}  {r.reason:<18}  {_short(r.topic, 40):<40}  "
                       f"{_short(r.replay_result or r.detail, 70)}")


@dlq.command("replay")
@database_option
@click.option("--reason", default=None, help="Only dead letters with this original reason (e.g. unknown_topic).")
@click.option("--since", default=None,
              help="Only dead letters received since this ISO 8601 time (UTC unless it names a zone).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many dead letters.")
@click.option("--topics", envvar="TDS_MQTT_TOPICS", default=None,
              help="Topic templates to parse with (default: the writer's TDS_MQTT_TOPICS).")
@click.option("--dry-run", is_flag=True, help="Parse and count only: land nothing, mark nothing.")
@user_errors
def replay_dead_letters(database_url: str | None, reason: str | None, since: str | None, limit: int | None,
                        topics: str | None, dry_run: bool) -> None:
    """Re-parse dead letters, land those that now parse, mark each row (idempotent)."""
    url = PlatformSettings(database_url=database_url).resolved_database_url()
    settings = ParsingSettings(mqtt_topics=topics) if topics else ParsingSettings()
    try:
        selection = ReplaySelection(reason=reason, since=parse_instant(since, "--since") if since else None,
                                    limit=limit)
        parser = settings.parser()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        report = replay(engine_for(url), url, parser, selection, dry_run=dry_run)
    except ProgrammingError as exc:
        raise click.ClickException(NO_TABLE) from exc
    except StoreUnavailableError as exc:
        raise click.ClickException(f"cannot land the replayed readings ({exc}); is the database running?") from exc
    meta = report.metadata()
    prefix = "dry run: would land" if dry_run else "landed"
    click.echo(f"{meta['examined']} examined: {prefix} {meta['landed']} ({meta['readings_inserted']} readings), "
               f"{meta['still_invalid']} still invalid, {meta['ignored']} ignored, {meta['unchanged']} unchanged")
    if report.still_invalid_by_reason:
        click.echo(f"still invalid by reason: {meta['still_invalid_reasons']}")
