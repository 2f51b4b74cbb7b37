"""`tds bench ingest --quick` end to end on the session stack, plus the pure pieces it relies on.

Asserts that every figure is produced and every count is exact — never a speed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest_stream.broker import BrokerAddress
from tds_platform.bench.ingest import histogram_quantile
from tds_platform.bench.publisher import _split_packet, publish_packet
from tds_platform.bench.sessions import _native_options
from tds_platform.bench.shapes import MessageShape
from tds_platform.cli.main import cli
from tds_platform.stack import LocalStack


def test_quick_run_reports_every_figure_with_exact_counts(stack: LocalStack, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["bench", "ingest", "--quick", "--stack-dir", str(stack.layout.root),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "ingest.json").read_text())
    assert (out / "ingest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [s["points"] for s in report["shapes"]] == [1, 10]
    for shape in report["shapes"]:
        assert shape["mqtt_ceiling"]["client"] == "mosquitto_sub"
        assert shape["mqtt_ceiling"]["msg_per_s"] > 0
        assert shape["mqtt_reference_paho"]["msg_per_s"] > 0
        assert shape["mqtt_reference_writer_client"]["msg_per_s"] > 0
        assert shape["database_ceiling"]["rows"] == shape["messages"] * shape["points"]
        assert shape["writer"]["points_per_s"] > 0
        assert shape["ratio"] > 0
        assert shape["writer"]["count_check"]["passed"], shape["writer"]["count_check"]
    latency = report["latency"]
    assert latency["observations"] == latency["published"] > 0
    assert all(latency[k] is not None for k in ("p50_s", "p95_s", "p99_s"))
    assert latency["database_ts_to_ingested_at"]["rows"] == latency["published"]
    assert report["memory"]["peak_rss_mb"] > 10
    assert report["memory"]["drain"]["count_check"]["passed"]
    pair = report["shared_group"]
    assert pair["count_check"]["passed"]
    assert sum(pair["per_writer_messages"]) == pair["messages"]
    assert all(share > 0 for share in pair["per_writer_messages"])
    assert report["environment"]["durable"] is False
    assert len(report["load_1m"]["before"]) == 3
    verdicts = {c["figure"]: c["passed"] for c in report["checks"]}
    assert sum(1 for v in verdicts.values() if v is not None) == 8
    assert "PASS" in result.output and "exact count" in result.output
    assert "mosquitto_sub" in result.output and "reference: bare stock-paho subscriber" in result.output


def test_native_ceiling_resumes_the_session_at_qos_1_without_the_password_on_its_command_line() -> None:
    address = BrokerAddress("127.0.0.1", 1884, "tds_bench", "s3cret", tls=False)
    options = _native_options(address, "tdsbench-ceiling", ("tds/+/+/+/telem",), 500, 100)
    assert "s3cret" not in options and "-P" not in options
    assert {"-c", "-N"} <= set(options)
    for flag, value in (("-q", "1"), ("-C", "500"), ("-i", "tdsbench-ceiling"), ("-t", "tds/+/+/+/telem"),
                        ("-V", "mqttv5")):
        assert options[options.index(flag) + 1] == value
    assert options[options.index("receive-maximum") + 1] == "100"


@pytest.mark.parametrize("benchmark", ["ingest", "quality"])
def test_a_stack_dir_without_a_running_stack_is_one_sentence(tmp_path: Path, benchmark: str) -> None:
    result = CliRunner().invoke(cli, ["bench", benchmark, "--quick", "--stack-dir", str(tmp_path),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "no running local stack" in result.output
    assert "Traceback" not in result.output


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    buckets = {0.1: 50.0, 0.25: 99.0, 0.5: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, buckets) == 0.1
    assert histogram_quantile(0.99, buckets) == 0.25
    assert abs(histogram_quantile(0.995, buckets) - 0.375) < 1e-9  # type: ignore[operator]
    assert histogram_quantile(0.5, {float("inf"): 0.0}) is None


def test_publish_packet_round_trips_through_the_splitter() -> None:
    payload = b"x" * 300  # remaining length needs two bytes
    packet = publish_packet(513, "tds/t/s/e/telem", payload)
    kind, body, end = _split_packet(packet + b"\x40")  # type: ignore[misc]
    assert (kind, end) == (0x30, len(packet))
    assert body.endswith(b"\x02\x01\x00" + payload)
    assert _split_packet(packet[:-1]) is None


def test_backlog_keys_are_distinct_so_counts_are_exact() -> None:
    shape = MessageShape(points=3, equipment=7)
    keys = {(shape.topic(n), shape.backlog_ts(n)) for n in range(100)}
    assert len(keys) == 100
    assert json.loads(shape.payload(5, shape.backlog_ts(5)))["points"][2]["name"] == "metric_2"
