"""`tds bench quality --quick` end to end on the session stack, plus the counts it promises at full size.

Asserts that every figure is produced and every count is exact — never a speed.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tds_platform.bench.quality import QualityBenchOptions
from tds_platform.cli.main import cli
from tds_platform.stack import LocalStack

# --quick: 4 equipment x 3 metrics = 12 series every 10 s for a day; series number 7 is silent
# 23:20-23:30 (in the judged hour: 60 readings, 10 minutes, one gap).
SERIES = 12


def test_quick_run_reports_every_figure_with_exact_counts(stack: LocalStack, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["bench", "quality", "--quick", "--stack-dir", str(stack.layout.root),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "quality.json").read_text())
    assert (out / "quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["data"]["raw_rows"] == SERIES * 8640 - 60
    quality = report["quality"]
    assert quality["hour"] == "2026-01-01T23:00:00+00:00"
    intervals = quality["intervals"]
    assert intervals["series_inferred"] == intervals["intervals_remembered_after"] == SERIES
    assert intervals["readings"] == SERIES * 8640 - 60
    assert intervals["seconds"] > 0 and intervals["readings_per_s"] > 0
    for run in (quality["known"], quality["cold"]):
        assert run["quality_rows"] == SERIES  # series x 1 hour
        assert run["readings"] == SERIES * 360 - 60
        assert run["seconds"] > 0 and run["readings_per_s"] > 0
    known, cold = quality["known"], quality["cold"]
    assert (known["gaps"], known["series_at_interval"], known["series_pending"]) == (1, SERIES, 0)
    # Cold: judged before series_intervals ran, nothing inferred inline, so no interval and no gap yet.
    assert (cold["gaps"], cold["series_at_interval"], cold["series_pending"]) == (0, 0, SERIES)
    assert cold["intervals_remembered_after"] == 0
    rows = {level["level"]: level["rows_written"] for level in report["rollups"]["levels"]}
    assert rows == {"telemetry_1m": SERIES * 1440 - 10, "telemetry_1h": SERIES * 24, "telemetry_1d": SERIES}
    assert report["rollups"]["raw_rows_per_s"] > 0
    assert report["environment"]["stack"] == "existing"
    storage = report["storage"]
    assert storage["raw_bytes_per_reading"] > 0
    if report["environment"]["timescaledb_edition"] == "full":
        assert storage["chunks_compressed"] == 1  # the generated day is one chunk
        assert 0 < storage["compressed_bytes_per_reading"] < storage["raw_bytes_per_reading"]
    else:
        assert storage["compression"].startswith("unavailable")
    verdicts = {c["figure"]: c["passed"] for c in report["checks"] if c["target"] not in ("exact", "-")}
    assert "  cold partition / warm partition" in verdicts  # 12 series: no partition or rollup target
    assert all(c["passed"] for c in report["checks"] if c["target"] == "exact")
    assert "hourly quality partition" in result.output and "exact" in result.output


def test_several_fleet_sizes_give_the_growth_table_and_chart(stack: LocalStack, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["bench", "quality", "--quick", "--series", "6", "--series", "12", "--hours", "2",
                                      "--stack-dir", str(stack.layout.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    growth = json.loads((out / "quality-growth.json").read_text())["runs"]
    assert [(run["series"], run["hours"]) for run in growth] == [(6, 2), (12, 2)]
    assert all(run["partition_warm_s"] > 0 and run["partition_cold_s"] > 0 for run in growth)
    assert (out / "quality-growth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "quality-12.json").read_text())["data"]["raw_rows"] == 12 * 720 - 60
    assert "| 12 | 2 |" in result.output


def test_series_must_divide_into_equipment(stack: LocalStack, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bench", "quality", "--quick", "--series", "13", "--stack-dir",
                                      str(stack.layout.root), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "multiple of --metrics (3)" in result.output


def test_full_size_counts() -> None:
    """500 x 5 series; 50 of them silent 10 min in the judged hour, 50 silent 30 min in the morning."""
    options = QualityBenchOptions()
    assert options.series == 2500
    assert options.raw_rows == 2500 * 8640 - 50 * 60 - 50 * 180
    assert options.hour_readings == 2500 * 360 - 50 * 60
    assert options.rollup_rows("telemetry_1m") == 2500 * 1440 - 50 * 10 - 50 * 30


def test_fewer_hours_keep_only_their_silences() -> None:
    """The last 2 hours of the day hold the judged hour's silence, not the morning's."""
    options = QualityBenchOptions(hours=2)
    assert options.raw_rows == 2500 * 720 - 50 * 60
    assert options.rollup_rows("telemetry_1m") == 2500 * 120 - 50 * 10
    assert options.hour_target_s == 1.0 and options.rollup_target_s is None
