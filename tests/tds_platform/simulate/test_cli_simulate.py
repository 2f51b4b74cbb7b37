from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from tds_platform.cli.main import cli
from tds_platform.stack import LocalStack

SMALL = ["simulate", "--dry-run", "--tenants", "1", "--sites", "1", "--equipment", "2", "--seed", "9"]


def test_dry_run_prints_the_history_as_topic_payload_lines() -> None:
    result = CliRunner().invoke(cli, [*SMALL, "--history", "2m", "--duration", "0"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * 12  # two devices, 120 s at 10 s
    topics = {line.split(" ", 1)[0] for line in lines}
    assert topics == {"tds/acme/site-1/s1-chiller-01/telem", "tds/acme/site-1/s1-meter-01/telem"}
    assert all(orjson.loads(line.split(" ", 1)[1])["schema"] == "v1" for line in lines)
    assert "done: published 24" in result.stderr


def test_faults_show_up_in_the_summary() -> None:
    result = CliRunner().invoke(cli, [*SMALL, "--history", "1h", "--duration", "0", "--faults", "demo",
                                      "--duplicate-rate", "0.2", "--gap-rate", "1"])
    assert result.exit_code == 0, result.output
    assert "duplicates" in result.stderr
    assert "messages silenced by gap" in result.stderr


def test_user_errors_are_one_sentence() -> None:
    result = CliRunner().invoke(cli, [*SMALL, "--history", "six hours"])
    assert result.exit_code == 1
    assert "Error: --history: Value error, 'six hours' is not a duration; use e.g. 30s, 15m, 6h or 1d" in result.stderr
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, [*SMALL, "--gap-rate", "3"])
    assert result.exit_code == 1
    assert "fault rate gap must be between 0 and 1" in result.stderr


def test_unreachable_broker_is_one_sentence() -> None:
    result = CliRunner().invoke(cli, ["simulate", "--mqtt-url", "mqtt://{tenant}:pw@127.0.0.1:1", "--duration", "0"])
    assert result.exit_code == 1
    assert "cannot reach the MQTT broker at mqtt://acme@127.0.0.1:1" in result.stderr
    assert "pw" not in result.stderr


def test_bad_mqtt_url_and_missing_stack_are_one_sentence(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--mqtt-url", "http://broker:1883"])
    assert result.exit_code == 1
    assert "Error: the MQTT URL must look like mqtt://user:password@host:port" in result.stderr
    result = CliRunner().invoke(cli, ["simulate", "--stack-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no local stack in" in result.stderr
    assert not (tmp_path / "none").exists()  # no accounts written into a stack that does not exist


def test_local_stack_accounts_are_used_by_default(stack: LocalStack) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--stack-dir", str(stack.layout.root), "--history", "1m",
                                      "--duration", "0", "--tenants", "1", "--sites", "1", "--equipment", "1"])
    assert result.exit_code == 0, result.output
    assert f"publishing to mqtt://acme@127.0.0.1:{stack.layout.mqtt_port}" in result.stderr
    assert "done: published 6" in result.stderr
