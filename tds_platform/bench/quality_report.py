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
GROWTH_JSON_NAME = "quality-growth.json"
GROWTH_CHART_NAME = "quality-growth.png"


def _exact(figure: str, got: int, expected: int) -> Check:
    return Check(figure, f"{got:,} (expected {expected:,})", "exact", got == expected)


def _timing(figure: str, run: dict[str, Any], target_s: float | None = None) -> Check:
    """A timed step, against the target when it has one (otherwise shown for context)."""
    return Check(figure, f"{run['seconds']:.2f} s, {run['readings_per_s']:,.0f} readings/s",
                 "-" if target_s is None else f"<= {target_s:g} s",
                 None if target_s is None else run["seconds"] <= target_s)


def _cold_ratio(quality: dict[str, Any]) -> Check:
    ratio = quality["cold"]["seconds"] / quality["known"]["seconds"]
    return Check("  cold partition / warm partition", f"{ratio:.1f}x", f"<= {quality['cold_ratio_target']:g}x",
                 ratio <= quality["cold_ratio_target"])


def _storage(storage: dict[str, Any]) -> list[Check]:
    rows = [Check("bytes per stored reading, as written", f"{storage['raw_bytes_per_reading']:.1f} B", "-", None)]
    if storage["compression"] != "compressed":
        return [*rows, Check("bytes per stored reading, compressed", storage["compression"], "-", None)]
    return [*rows, Check("bytes per stored reading, compressed",
                         f"{storage['compressed_bytes_per_reading']:.1f} B ({storage['compressed_ratio']:.1%} of raw, "
                         f"{storage['compress_s']:.1f} s to compress)",
                         f"<= {storage['compressed_ratio_target']:.0%} of raw",
                         storage["compressed_ratio"] <= storage["compressed_ratio_target"])]


def checks(result: dict[str, Any]) -> list[Check]:
    quality, rollups, data = result["quality"], result["rollups"], result["data"]
    intervals, known, cold = quality["intervals"], quality["known"], quality["cold"]
    rollup_target = rollups["target_s"]
    rows = [
        _timing("hourly quality partition, intervals known (every scheduled run)", known, quality["target_s"]),
        _timing("  hourly quality partition, nothing remembered (cold start: series pending)", cold),
        _cold_ratio(quality),
        _timing("  interval inference, every series over its 24 h (series_intervals, its own run)", intervals),
        Check("rollups 1m -> 1h -> 1d of the generated hours",
              f"{rollups['seconds']:.2f} s, {rollups['raw_rows_per_s']:,.0f} raw rows/s",
              "-" if rollup_target is None else f"<= {rollup_target:g} s",
              None if rollup_target is None else rollups["seconds"] <= rollup_target),
        *[Check(f"  {level['level']} refresh", f"{level['seconds']:.2f} s", "-", None) for level in rollups["levels"]],
        *_storage(result["storage"]),
        _exact("readings generated", data["raw_rows"], data["raw_rows_expected"]),
        _exact("intervals inferred by series_intervals", intervals["series_inferred"], intervals["series_expected"]),
        _exact("intervals remembered by series_intervals", intervals["intervals_remembered_after"],
               intervals["series_expected"]),
        _exact("intervals inferred inline by the cold partition", cold["intervals_remembered_after"], 0),
    ]
    for run in (cold, known):
        rows += [
            _exact(f"{run['run']}: quality rows (series x 1 hour)", run["quality_rows"], run["quality_rows_expected"]),
            _exact(f"{run['run']}: gaps found (silences made)", run["gaps"], run["gaps_expected"]),
            _exact(f"{run['run']}: series judged at the inferred interval", run["series_at_interval"],
                   run["series_at_interval_expected"]),
            _exact(f"{run['run']}: series pending (no interval yet)", run["series_pending"],
                   run["series_pending_expected"]),
        ]
    rows += [_exact(f"{level['level']} rows", level["rows_written"], level["rows_expected"])
             for level in rollups["levels"]]
    return rows


def with_checks(result: dict[str, Any]) -> dict[str, Any]:
    return report.with_checks(result, checks)


def run_name(result: dict[str, Any], several: bool, name: str) -> str:
    """quality.json for a single run; quality-<series>.json for each of several (a growth run)."""
    if not several:
        return name
    stem, suffix = name.rsplit(".", 1)
    return f"{stem}-{result['options']['series']}.{suffix}"


def write_json(result: dict[str, Any], out: Path, several: bool = False) -> Path:
    return report.write_json(result, out, run_name(result, several, JSON_NAME))


def write_chart(result: dict[str, Any], out: Path, several: bool = False) -> Path:
    """Two panels: the hourly partition (intervals known, against its target; the cold partition and
    interval inference beside it for context) and the day's rollups per level, each with its target."""
    out.mkdir(parents=True, exist_ok=True)
    figure, (partition, rollup) = plt.subplots(1, 2, figsize=(12, 4.5))
    quality = result["quality"]
    partition.bar(["partition,\nintervals known", "partition, cold\n(series pending)",
                   "interval inference\n(series_intervals, 24 h)"],
                  [quality["known"]["seconds"], quality["cold"]["seconds"], quality["intervals"]["seconds"]],
                  color=["tab:green", "tab:orange", "tab:gray"])
    if quality["target_s"] is not None:
        partition.axhline(quality["target_s"], color="tab:red", linestyle="--", label="partition target")
    partition.set(title=f"Hourly quality partition (s), {quality['known']['readings']:,} readings")
    if quality["target_s"] is not None:
        partition.legend()

    rollups = result["rollups"]
    bottom = 0.0
    for level in rollups["levels"]:
        rollup.bar(["day of rollups"], [level["seconds"]], bottom=bottom, label=level["level"])
        bottom += level["seconds"]
    if rollups["target_s"] is not None:
        rollup.axhline(rollups["target_s"], color="tab:red", linestyle="--", label="target")
    rollup.set(title=f"Rollups of {rollups['raw_rows']:,} readings (s)")
    rollup.legend()

    env, options = result["environment"], result["options"]
    figure.suptitle(f"tds bench quality — {options['equipment']} equipment x {options['metrics']} metrics every "
                    f"{options['interval_s']} s, {env['cpus']} CPUs, TimescaleDB {env['timescaledb_edition']}")
    return report.save_chart(figure, out / run_name(result, several, CHART_NAME))


def growth_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seconds against fleet size, one row per run, smallest fleet first."""
    rows = [{"series": r["options"]["series"], "hours": r["options"]["hours"],
             "partition_warm_s": r["quality"]["known"]["seconds"], "partition_cold_s": r["quality"]["cold"]["seconds"],
             "interval_inference_s": r["quality"]["intervals"]["seconds"], "rollups_s": r["rollups"]["seconds"],
             "partition_target_s": r["quality"]["target_s"]} for r in results]
    return sorted(rows, key=lambda row: row["series"])


def _target(seconds: float | None) -> str:
    return "-" if seconds is None else f"<= {seconds:g} s"


def growth_table(rows: list[dict[str, Any]]) -> str:
    """The growth as a Markdown table, as the README carries it."""
    lines = ["| series | hours generated | partition, warm (s) | partition, cold (s) | interval inference (s) | "
             "rollups (s) | partition target |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['series']:,} | {r['hours']} | {r['partition_warm_s']:.2f} | {r['partition_cold_s']:.2f} | "
              f"{r['interval_inference_s']:.2f} | {r['rollups_s']:.2f} | {_target(r['partition_target_s'])} |"
              for r in rows]
    return "\n".join(lines)


def write_growth(results: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """The growth JSON and chart: seconds of each step against series, on log-log axes."""
    rows = growth_rows(results)
    path = report.write_json({"runs": rows}, out, GROWTH_JSON_NAME)
    figure, axes = plt.subplots(figsize=(8, 5))
    series = [r["series"] for r in rows]
    for key, label in (("partition_warm_s", "hourly partition, warm"), ("partition_cold_s", "hourly partition, cold"),
                       ("interval_inference_s", "interval inference"), ("rollups_s", "rollups of the generated hours")):
        axes.plot(series, [r[key] for r in rows], marker="o", label=label)
    targets = [(r["series"], r["partition_target_s"]) for r in rows if r["partition_target_s"] is not None]
    if targets:
        axes.scatter(*zip(*targets, strict=True), marker="_", s=400, color="tab:red", label="partition target")
    axes.set(xscale="log", yscale="log", xlabel="series", ylabel="seconds",
             title="tds bench quality: growth with the fleet")
    axes.legend()
    return path, report.save_chart(figure, out / GROWTH_CHART_NAME)
