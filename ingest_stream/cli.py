"""`tds-ingest`: the stream writer's command line. Every setting is a flag and a TDS_ variable.

Flags are generated from the settings model, so the two can never drift apart; bad values end
in one sentence per field, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from pydantic import ValidationError

from ingest_stream.logs import configure_logging
from ingest_stream.settings import IngestSettings


def _settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name, field in reversed(list(IngestSettings.model_fields.items())):
        flag = "--" + name.replace("_", "-")
        help_text = f"{field.description or name} [env: TDS_{name.upper()}]"
        if field.annotation is bool:
            func = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)(func)
        else:
            func = click.option(flag, name, default=None, help=help_text)(func)
    return func


def load_settings(overrides: dict[str, Any]) -> IngestSettings:
    try:
        return IngestSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise click.UsageError(f"invalid settings — {problems}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """TDS stream writer: MQTT 5 shared subscription -> TimescaleDB, lossless and idempotent."""


@main.command()
@_settings_options
def run(**overrides: Any) -> None:
    """Run the writer until SIGTERM/SIGINT (then flush, commit, ack and exit 0)."""
    settings = load_settings(overrides)
    configure_logging(settings.instance_id, settings.log_level)
    from ingest_stream.receiver.service import IngestService
    from ingest_stream.runtime import tune_garbage_collector

    try:
        service = IngestService(settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    tune_garbage_collector()
    sys.exit(service.run())


@main.command("settings")
@_settings_options
def show_settings(**overrides: Any) -> None:
    """Print the effective settings (credentials redacted)."""
    from ingest_stream.settings import redact_url

    settings = load_settings(overrides)
    for name, value in settings.model_dump().items():
        shown = redact_url(value) if name.endswith("_url") and isinstance(value, str) else value
        click.echo(f"{name} = {shown}")
    click.echo(f"coordination (effective) = {settings.effective_coordination.value}")


if __name__ == "__main__":
    main()
