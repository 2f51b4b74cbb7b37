"""`tds bench ingest | quality`: the stream writer against this machine's MQTT and database ceilings,
and the quality, rollup and storage costs over generated days of fleets of any size.

A command, not a test: missed speed targets are reported as FAIL rows and exit 0; only a failed
exact-count check (a lost or extra reading) exits non-zero, because that is a bug, not a speed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from tds_platform.bench import quality_report
from tds_platform.bench.ingest import QUICK, BenchError, IngestBenchOptions, run_ingest_bench
from tds_platform.bench.publisher import PublishError
from tds_platform.bench.quality import QUICK as QUALITY_QUICK
from tds_platform.bench.quality import QualityBenchOptions, run_quality_bench
from tds_platform.bench.report import checks, table, with_checks, write_chart, write_json
from tds_platform.bench.sessions import SessionError
from tds_platform.bench.writers import WriterError
from tds_platform.cli.errors import user_errors


def _points(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        shapes = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        shapes = ()
    if not shapes or min(shapes) < 1:
        raise click.BadParameter("give points per message as positive integers, e.g. 1,10")
    return shapes


@click.group("bench")
def bench() -> None:
    """Benchmarks against the machine's own ceilings (results in JSON and a PNG chart)."""


@bench.command("ingest")
@click.option("--messages", type=click.IntRange(min=100), default=None,
              help="Backlog size per message shape and for the two-writer run.  [default: 200000]")
@click.option("--points", callback=_points, default=None, help="Message shapes: points per message.  [default: 1,10]")
@click.option("--latency-rate", type=click.IntRange(min=1), default=None,
              help="Messages/s published during the latency step.  [default: 2000]")
@click.option("--latency-seconds", type=click.FloatRange(min=0.5), default=None,
              help="How long the latency step publishes.  [default: 10]")
@click.option("--memory-messages", type=click.IntRange(min=100), default=None,
              help="Backlog the memory step drains.  [default: 1000000]")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("bench-results"),
              show_default=True, help="Folder for ingest.json, ingest.png and the writers' logs.")
@click.option("--stack-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Use this running local stack instead of starting a throw-away one. Writers of that "
                   "stack subscribed to all of tds/# also receive the benchmark's messages.")
@click.option("--quick", is_flag=True, help="A small smoke run of every step (a few thousand messages).")
@user_errors
def ingest(messages: int | None, points: tuple[int, ...] | None, latency_rate: int | None,
           latency_seconds: float | None, memory_messages: int | None, out: Path, stack_dir: Path | None,
           quick: bool) -> None:
    """MQTT ceiling, database ceiling, the writer's ratio to them, latency, memory and two writers."""
    given = {"messages": messages, "points": points, "latency_rate": latency_rate,
             "latency_seconds": latency_seconds, "memory_messages": memory_messages}
    options = dataclasses.replace(QUICK if quick else IngestBenchOptions(),
                                  **{name: value for name, value in given.items() if value is not None})
    try:
        result = with_checks(run_ingest_bench(options, stack_dir, out / "logs", click.echo))
    except (BenchError, PublishError, SessionError, WriterError) as exc:
        raise click.ClickException(f"{exc} (writer logs in {out / 'logs'})") from exc
    click.echo()
    click.echo(table(checks(result)))
    click.echo(f"\n{result['environment']['durability_note']}; load average (1 min) before/after: "
               f"{result['load_1m']['before'][0]} / {result['load_1m']['after'][0]} on "
               f"{result['environment']['cpus']} CPUs")
    click.echo(f"results: {write_json(result, out)}  chart: {write_chart(result, out)}")
    if not all(c["passed"] for c in result["checks"] if c["target"] == "exact"):
        raise click.ClickException("an exact-count check failed: readings were lost or doubled")


@bench.command("quality")
@click.option("--series", "series", type=click.IntRange(min=1), multiple=True,
              help="Series in the fleet (a multiple of --metrics); give it several times for the growth table "
                   "and chart, e.g. --series 2500 --series 25000 --series 100000.  [default: 2500]")
@click.option("--equipment", type=click.IntRange(min=1), default=None,
              help="Equipment in the fleet, instead of --series.  [default: 500]")
@click.option("--metrics", type=click.IntRange(min=1), default=None, help="Metrics per equipment.  [default: 5]")
@click.option("--hours", type=click.IntRange(min=1, max=24), default=None,
              help="Generate only the day's last HOURS (the judged hour is the last); makes a large fleet "
                   "affordable, inferring intervals from less history.  [default: 24]")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("bench-results"),
              show_default=True, help="Folder for quality.json and quality.png (quality-<series>.* and "
                                      "quality-growth.* for several --series).")
@click.option("--stack-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Use this running local stack (its own tds_bench_quality database) instead of starting "
                   "a throw-away one.")
@click.option("--quick", is_flag=True, help="A small smoke run: 12 series, a few seconds.")
@user_errors
def quality(series: tuple[int, ...], equipment: int | None, metrics: int | None, hours: int | None, out: Path,
            stack_dir: Path | None, quick: bool) -> None:
    """Hourly quality partition, rollups and bytes per reading over generated readings every 10 s."""
    base = dataclasses.replace(QUALITY_QUICK if quick else QualityBenchOptions(),
                               **{name: value for name, value in {"metrics": metrics, "hours": hours}.items()
                                  if value is not None})
    if series and equipment is not None:
        raise click.BadParameter("give --series or --equipment, not both", param_hint="--series")
    if any(n % base.metrics for n in series):
        raise click.BadParameter(f"each --series must be a multiple of --metrics ({base.metrics})",
                                 param_hint="--series")
    runs = [dataclasses.replace(base, equipment=n // base.metrics) for n in series] or \
        [base if equipment is None else dataclasses.replace(base, equipment=equipment)]
    several = len(runs) > 1
    results = []
    for options in runs:
        try:
            result = quality_report.with_checks(run_quality_bench(options, stack_dir, click.echo))
        except BenchError as exc:
            raise click.ClickException(str(exc)) from exc
        results.append(result)
        click.echo()
        click.echo(table(quality_report.checks(result)))
        click.echo(f"\nload average (1 min) before/after: {result['load_1m']['before'][0]} / "
                   f"{result['load_1m']['after'][0]} on {result['environment']['cpus']} CPUs")
        click.echo(f"results: {quality_report.write_json(result, out, several)}  "
                   f"chart: {quality_report.write_chart(result, out, several)}")
    if several:
        click.echo("\n" + quality_report.growth_table(quality_report.growth_rows(results)))
        data, chart = quality_report.write_growth(results, out)
        click.echo(f"growth: {data}  chart: {chart}")
    if not all(c["passed"] for result in results for c in result["checks"] if c["target"] == "exact"):
        raise click.ClickException("an exact-count check failed: the quality run or a rollup lost or invented rows")
