"""The ingest benchmark's outputs: each figure against its target, as a table, JSON and a PNG chart.

Reads the result the run produced and only renders it; it never measures or re-computes a figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt

JSON_NAME = "ingest.json"
CHART_NAME = "ingest.png"


@dataclass
class Check:
    figure: str
    value: str
    target: str
    passed: bool | None  # None: a figure shown for context, with no target of its own


def _rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


def _count(check: dict[str, Any]) -> str:
    return (f"{check['rows_landed']:,}/{check['rows_expected']:,} rows, {check['series_landed']}/"
            f"{check['series_expected']} series, {check['dead_letters']} DLQ, "
            f"{check['duplicates_absorbed']} redelivered")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f}"


def _writer_check(label: str, shape: dict[str, Any]) -> Check:
    """The writer's rate, judged against the shape's own target where it has one."""
    writer = shape["writer"]
    value = f"{_rate(writer['msg_per_s'], 'msg/s')}, {_rate(writer['points_per_s'], 'points/s')}"
    if shape.get("target") is None:
        return Check(f"{label} stream writer", value, "-", None)
    figure, least = shape["target"]
    unit = "msg/s" if figure == "msg_per_s" else "points/s"
    return Check(f"{label} stream writer", value, f">= {least:,.0f} {unit}", writer[figure] >= least)


def checks(result: dict[str, Any]) -> list[Check]:
    rows: list[Check] = []
    for shape in result["shapes"]:
        label = f"{shape['points']}-point"
        writer = shape["writer"]
        rows += [
            Check(f"{label} MQTT ceiling (mosquitto_sub, C, QoS 1)", _rate(shape["mqtt_ceiling"]["msg_per_s"], "msg/s"),
                  "-", None),
            Check(f"{label} reference: bare stock-paho subscriber",
                  _rate(shape["mqtt_reference_paho"]["msg_per_s"], "msg/s"), "-", None),
            Check(f"{label} reference: bare writer-client subscriber",
                  _rate(shape["mqtt_reference_writer_client"]["msg_per_s"], "msg/s"), "-", None),
            Check(f"{label} database ceiling (INSERT ... SELECT)",
                  _rate(shape["database_ceiling"]["rows_per_s"], "rows/s"), "-", None),
            _writer_check(label, shape),
            Check(f"{label} ratio writer / min(ceilings)", f"{shape['ratio']:.3f} (bound: {shape['bound']})", "-",
                  None),
            Check(f"{label} exact count", _count(writer["count_check"]), "exact", writer["count_check"]["passed"]),
        ]
    latency = result["latency"]
    p99 = latency["p99_s"]
    database = latency["database_ts_to_ingested_at"]
    rows += [
        Check(f"latency p50/p95/p99 at {latency['rate_msg_per_s']:,} msg/s (publish -> commit)",
              f"{_ms(latency['p50_s'])}/{_ms(latency['p95_s'])}/{_ms(p99)} ms",
              f"p99 <= {latency['p99_target_s'] * 1000:.0f} ms", p99 is not None and p99 <= latency["p99_target_s"]),
        Check("latency p50/p95/p99 cross-check (publish -> ingested_at)",
              f"{_ms(database.get('p50_s'))}/{_ms(database.get('p95_s'))}/{_ms(database.get('p99_s'))} ms",
              "-", None),
    ]
    memory = result["memory"]
    rows += [
        Check(f"writer peak RSS, {memory['messages']:,}-message backlog", f"{memory['peak_rss_mb']:.1f} MB",
              f"<= {memory['target_mb']:.0f} MB", memory["peak_rss_mb"] <= memory["target_mb"]),
        Check("memory run exact count", _count(memory["drain"]["count_check"]), "exact",
              memory["drain"]["count_check"]["passed"]),
    ]
    pair = result["shared_group"]
    shares = "/".join(f"{n:,}" for n in pair["per_writer_messages"])
    rows += [
        Check("two writers, one shared group", f"{_rate(pair['msg_per_s'], 'msg/s')} (shares {shares})", "-", None),
        Check("two writers exact count", _count(pair["count_check"]), "exact", pair["count_check"]["passed"]),
    ]
    return rows


def table(rows: list[Check]) -> str:
    widths = [max(len(getattr(r, name)) for r in rows) for name in ("figure", "value", "target")]
    lines = [f"{'figure':<{widths[0]}}  {'value':<{widths[1]}}  {'target':<{widths[2]}}  result",
             "-" * (sum(widths) + 14)]
    for r in rows:
        verdict = "" if r.passed is None else ("PASS" if r.passed else "FAIL")
        lines.append(f"{r.figure:<{widths[0]}}  {r.value:<{widths[1]}}  {r.target:<{widths[2]}}  {verdict}")
    return "\n".join(lines)


def with_checks(result: dict[str, Any], judge: Callable[[dict[str, Any]], list[Check]] | None = None) -> dict[str, Any]:
    """The result with its checks (ingest's by default) and whether every judged one passed."""
    rows = (judge or checks)(result)
    return {**result, "checks": [asdict(r) for r in rows],
            "passed": all(r.passed for r in rows if r.passed is not None)}


def write_json(result: dict[str, Any], out: Path, name: str = JSON_NAME) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def write_chart(result: dict[str, Any], out: Path) -> Path:
    """Four panels: throughput against both ceilings, the ratio, latency percentiles, peak memory."""
    out.mkdir(parents=True, exist_ok=True)
    figure, ((throughput, ratio), (latency, memory)) = plt.subplots(2, 2, figsize=(12, 8))
    shapes = result["shapes"]
    labels = [f"{s['points']}-point" for s in shapes]
    positions = range(len(shapes))
    series = [("MQTT ceiling (mosquitto_sub)", [s["mqtt_ceiling"]["points_per_s"] for s in shapes]),
              ("database ceiling", [s["database_ceiling"]["rows_per_s"] for s in shapes]),
              ("stream writer", [s["writer"]["points_per_s"] for s in shapes])]
    for offset, (name, values) in enumerate(series):
        throughput.bar([p + (offset - 1) * 0.27 for p in positions], values, width=0.27, label=name)
    throughput.set(title="Throughput (points/s)", xticks=list(positions), xticklabels=labels)
    throughput.legend()

    ratio.bar(labels, [s["ratio"] for s in shapes], color="tab:green")
    ratio.set(title="Writer / min(MQTT, database ceiling)", ylim=(0, max(1.05, *[s["ratio"] + 0.05 for s in shapes])))

    lat = result["latency"]
    names = ["p50", "p95", "p99"]
    latency.bar(names, [(lat[f"{n}_s"] or 0) * 1000 for n in names], color="tab:purple")
    latency.axhline(lat["p99_target_s"] * 1000, color="tab:red", linestyle="--", label="p99 target")
    latency.set(title=f"Publish -> commit at {lat['rate_msg_per_s']:,} msg/s (ms)")
    latency.legend()

    mem = result["memory"]
    memory.bar(["peak RSS"], [mem["peak_rss_mb"]], color="tab:orange")
    memory.axhline(mem["target_mb"], color="tab:red", linestyle="--", label="target")
    memory.set(title=f"Writer memory, {mem['messages']:,}-message backlog (MB)")
    memory.legend()

    env = result["environment"]
    figure.suptitle(f"tds bench ingest — {env['cpus']} CPUs, TimescaleDB {env['timescaledb_edition']}, "
                    f"{'durable' if env['durable'] else 'non-durable'} stack, load {result['load_1m']['before'][0]}")
    return save_chart(figure, out / CHART_NAME)


def save_chart(figure: Any, path: Path) -> Path:
    """Lay the figure out, write it as a PNG at `path` and free it (charts are drawn once, headless)."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
