"""`tds simulate`: a deterministic device fleet publishing telemetry (with optional faults) over MQTT.

The command only turns flags into settings, picks a transport and prints progress; it must never
hold simulation logic (that lives in tds_platform.simulate).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from tds_platform.cli.errors import user_errors
from tds_platform.cli.stack import stack_dir_option
from tds_platform.simulate.faults import PRESETS
from tds_platform.simulate.fleet import tenant_name
from tds_platform.simulate.mqtt import BrokerAddress, FleetLink, MqttError, broker_address
from tds_platform.simulate.runner import PrintTransport, Transport, run
from tds_platform.simulate.settings import SimulatorSettings
from tds_platform.stack import LocalStack, StackLayout

SHOWN_STATS = (
    "published", "readings", "messages_silenced_by_gap", "out_of_range_points", "bad_quality_points",
    "malformed_invalid_json", "malformed_bad_schema", "malformed_garbage", "duplicates", "late_messages", "commands",
)


def _settings(flags: dict[str, Any]) -> SimulatorSettings:
    try:
        settings = SimulatorSettings(**{name: value for name, value in flags.items() if value is not None})
        settings.fault_rates()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "--" + "-".join(str(part) for part in first["loc"]).replace("_", "-")
        raise click.ClickException(f"{where}: {first['msg']}") from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


def _addresses(settings: SimulatorSettings, stack_dir: Path) -> dict[str, BrokerAddress]:
    """Each tenant's login: from the URL template, or the local stack's per-tenant device account."""
    tenants = [tenant_name(n) for n in range(1, settings.tenants + 1)]
    if settings.mqtt_url:
        return {t: broker_address(settings.mqtt_url.replace("{tenant}", t)) for t in tenants}
    layout = StackLayout.load(stack_dir.absolute())
    if not layout.state_file.exists():
        raise click.ClickException(f"no local stack in {stack_dir}: start one with `tds stack up`, or pass --mqtt-url")
    local = LocalStack(layout)
    return {t: broker_address(local.device_mqtt_url(t)) for t in tenants}


def _summary(stats: Counter[str]) -> str:
    shown = [f"{name.replace('_', ' ')} {stats[name]}" for name in SHOWN_STATS if stats[name]]
    return ", ".join(shown) or "nothing published yet"


def _report(stats: Counter[str]) -> None:
    click.echo(_summary(stats), err=True)


def _rate_option(name: str, what: str) -> Any:
    return click.option(f"--{name}-rate", type=float, default=None, help=f"Chance (0-1) {what}.")


@click.command("simulate")
@stack_dir_option
@click.option("--mqtt-url", default=None, help="mqtt://user:pass@host:port ({tenant} is replaced per tenant); "
              "default: the local stack, one device account per tenant.  [env: TDS_SIMULATE_MQTT_URL]")
@click.option("--seed", type=int, default=None, help="Same seed, same payload bytes for the same times.  [default: 1]")
@click.option("--tenants", type=int, default=None, help="Number of tenants.  [default: 2]")
@click.option("--sites", type=int, default=None, help="Sites per tenant.  [default: 2]")
@click.option("--equipment", type=int, default=None,
              help="Equipment per site, chillers and meters in turn.  [default: 3]")
@click.option("--interval", default=None, help='Reporting interval, per kind too: "10s,meter=30s".  [default: 10s]')
@click.option("--speed", type=float, default=None, help="Simulated seconds per real second, live.  [default: 1]")
@click.option("--history", default=None, help="First publish this much past data as fast as the broker acks (6h).")
@click.option("--duration", default=None, help="Stop after this much simulated live time; 0 = history only.")
@click.option("--buffer", default=None, help="How far back devices keep readings for resend.  [default: 24h]")
@click.option("--faults", type=click.Choice(list(PRESETS)), default=None, help="Fault preset.  [default: none]")
@_rate_option("gap", "per device and hour of going silent")
@click.option("--gap-min", default=None, help="Shortest gap (e.g. 2m).")
@click.option("--gap-max", default=None, help="Longest gap, at most 1h (e.g. 10m).")
@_rate_option("out-of-range", "per point of an impossible value")
@_rate_option("bad-quality", "per point of a bad/uncertain quality flag")
@_rate_option("malformed", "per message of invalid JSON, a schema violation or garbage bytes")
@_rate_option("duplicate", "per message of publishing it twice")
@_rate_option("late", "per message of holding it back (late, out of order)")
@click.option("--late-max", default=None, help="Longest hold-back of a late message.  [default: 2m]")
@_rate_option("skew", "per device of a wrong clock")
@click.option("--skew-max", default=None, help="Largest clock error.  [default: 5m]")
@click.option("--dry-run", is_flag=True, help="Print `topic payload` lines instead of publishing.")
@user_errors
def simulate(stack_dir: Path, dry_run: bool, **flags: Any) -> None:
    """Run a simulated device fleet: realistic signals, optional faults, answers resend commands."""
    settings = _settings(flags)
    shape = settings.fleet_shape()
    devices = shape.tenants * shape.sites * shape.equipment
    # Ctrl-C and SIGTERM (from `make up`'s supervisor) end the run between messages, never mid-publish.
    stop = threading.Event()
    transport: Transport
    if dry_run:
        transport = PrintTransport(sys.stdout)
    else:
        try:
            addresses = _addresses(settings, stack_dir)
            link = FleetLink(addresses, max_inflight=settings.max_inflight, stop=stop)
            link.open()
        except MqttError as exc:
            raise click.ClickException(str(exc)) from exc
        transport = link
        click.echo(f"publishing to {next(iter(addresses.values())).display()} "
                   f"(one connection per tenant, user = tenant)", err=True)
    click.echo(f"{devices} devices ({shape.tenants} tenants x {shape.sites} sites x {shape.equipment} equipment), "
               f"interval {settings.interval}, seed {settings.seed}, faults {settings.faults}"
               + (f", history {settings.history:.0f} s" if settings.history else ""), err=True)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stats = run(settings, transport, int(time.time()), report=_report, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not dry_run:
            link.close()
    click.echo(f"{'stopped' if stop.is_set() else 'done'}: {_summary(stats)}", err=True)
    if not dry_run and link.dropped:
        click.echo(f"{link.dropped} messages were not sent: the broker was away when the simulator stopped", err=True)
