"""The quality benchmark's outputs: each figure against its target, as a table, JSON and a PNG chart.

Reads the result the run produced and only renders it; it never measures or re-computes a figure.
The row layout and table come from the ingest benchmark's report, so both read alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt

from tds_platform.bench import report
from tds_platform.bench.report import Check

JSON_NAME = "quality.json"
CHART_NAME = "quality.png"


def _exact(figure: str, got: int, expected: int) -> Check:
    return Check(figure, f"{got:,} (expected {expected:,})", "exact", got == expected)


def _timing(figure: str, run: dict[str, Any], target_s: float | None = None) -> Check:
    """A timed step, against the target when it has one (otherwise shown for context)."""
    return Check(figure, f"{run['seconds']:.2f} s, {run['readings_per_s']:,.0f} readings/s",
                 "-" if target_s is None else f"<= {target_s:g} s",
                 None if target_s is None else run["seconds"] <= target_s)


def checks(result: dict[str, Any]) -> list[Check]:
    quality, rollups, data = result["quality"], result["rollups"], result["data"]
    intervals, known, cold = quality["intervals"], quality["known"], quality["cold"]
    rows = [
        _timing("hourly quality partition, intervals known (every scheduled run)", known, quality["target_s"]),
        _timing("  interval inference, every series over 24 h (series_intervals, hourly)", intervals),
        _timing("  hourly quality partition inferring every interval inline (cold start)", cold),
        Check("day of rollups 1m -> 1h -> 1d",
              f"{rollups['seconds']:.2f} s, {rollups['raw_rows_per_s']:,.0f} raw rows/s",
              f"<= {rollups['target_s']:g} s", rollups["seconds"] <= rollups["target_s"]),
        *[Check(f"  {level['level']} refresh", f"{level['seconds']:.2f} s", "-", None) for level in rollups["levels"]],
        _exact("readings generated", data["raw_rows"], data["raw_rows_expected"]),
        _exact("intervals inferred by series_intervals", intervals["series_inferred"], intervals["series_expected"]),
        _exact("intervals remembered by series_intervals", intervals["intervals_remembered_after"],
               intervals["series_expected"]),
        _exact("intervals remembered by the cold partition", cold["intervals_remembered_after"],
               intervals["series_expected"]),
    ]
    for run in (known, cold):
        rows += [
            _exact(f"{run['run']}: quality rows (series x 1 hour)", run["quality_rows"], run["quality_rows_expected"]),
            _exact(f"{run['run']}: gaps found (silences made)", run["gaps"], run["gaps_expected"]),
            _exact(f"{run['run']}: series judged at the inferred interval", run["series_at_interval"],
                   run["quality_rows_expected"]),
        ]
    rows += [_exact(f"{level['level']} rows", level["rows_written"], level["rows_expected"])
             for level in rollups["levels"]]
    return rows


def with_checks(result: dict[str, Any]) -> dict[str, Any]:
    return report.with_checks(result, checks)


def write_json(result: dict[str, Any], out: Path) -> Path:
    return report.write_json(result, out, JSON_NAME)


def write_chart(result: dict[str, Any], out: Path) -> Path:
    """Two panels: the hourly partition (intervals known, against its target; interval inference and
    the cold partition beside it for context) and the day's rollups per level, each with its target."""
    out.mkdir(parents=True, exist_ok=True)
    figure, (partition, rollup) = plt.subplots(1, 2, figsize=(12, 4.5))
    quality = result["quality"]
    partition.bar(["partition,\nintervals known", "interval inference\n(all series, 24 h)",
                   "partition,\nall inferred inline"],
                  [quality["known"]["seconds"], quality["intervals"]["seconds"], quality["cold"]["seconds"]],
                  color=["tab:green", "tab:gray", "tab:orange"])
    partition.axhline(quality["target_s"], color="tab:red", linestyle="--", label="partition target")
    partition.set(title=f"Hourly quality partition (s), {quality['known']['readings']:,} readings")
    partition.legend()

    rollups = result["rollups"]
    bottom = 0.0
    for level in rollups["levels"]:
        rollup.bar(["day of rollups"], [level["seconds"]], bottom=bottom, label=level["level"])
        bottom += level["seconds"]
    rollup.axhline(rollups["target_s"], color="tab:red", linestyle="--", label="target")
    rollup.set(title=f"Rollups of {rollups['raw_rows']:,} readings (s)")
    rollup.legend()

    env, options = result["environment"], result["options"]
    figure.suptitle(f"tds bench quality — {options['equipment']} equipment x {options['metrics']} metrics every "
                    f"{options['interval_s']} s, {env['cpus']} CPUs, TimescaleDB {env['timescaledb_edition']}")
    return report.save_chart(figure, out / CHART_NAME)
