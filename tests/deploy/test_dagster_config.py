"""Dagster's deployment files and every command line docker-compose.yml runs, checked by the real CLIs.

A misspelt option in a compose `command:` only shows up when the container crash-loops; parsing it
here with the same click commands (plus --help, so nothing runs) catches it first.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from dagster._core.instance.config import dagster_instance_config

REPO = Path(__file__).resolve().parents[2]
DAGSTER = REPO / "deploy" / "dagster"


def compose_services() -> dict[str, dict]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"])


def console_script(name: str) -> click.Command:
    """The click command behind a console script of the image."""
    (entry,) = entry_points(group="console_scripts", name=name)
    module = importlib.import_module(entry.module)
    command = getattr(module, "cli", None) or entry.load()
    assert isinstance(command, click.Command), f"{name} is not a click command"
    return command


def test_instance_config_is_valid_for_this_dagster() -> None:
    config, _custom_class = dagster_instance_config(str(DAGSTER))
    assert set(config["storage"]) == {"postgres"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_workspace_points_at_the_code_server() -> None:
    (location,) = yaml.safe_load((DAGSTER / "workspace.yaml").read_text())["load_from"]
    server = location["grpc_server"]
    command = compose_services()[server["host"]]["command"]
    assert command[command.index("-p") + 1] == str(server["port"])
    assert command[command.index("-m") + 1] == "tds_platform.definitions"


def test_dagster_services_share_one_instance() -> None:
    services = compose_services()
    for name in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        env = services[name]["environment"]
        assert {f"DAGSTER_PG_{part}" for part in ("HOST", "PORT", "USER", "PASSWORD", "DB")} <= set(env)
        assert "dagster-storage:/opt/dagster/storage" in services[name]["volumes"]


@pytest.mark.parametrize("service", ["migrate", "ingest", "dagster-code", "dagster-webserver", "dagster-daemon"])
def test_compose_commands_parse(service: str) -> None:
    program, *args = compose_services()[service]["command"]
    result = CliRunner().invoke(console_script(program), [*args, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("service", ["dagster-code", "dagster-daemon"])
def test_health_check_commands_parse(service: str) -> None:
    program, *args = compose_services()[service]["healthcheck"]["test"][1:]
    result = CliRunner().invoke(console_script(program), [*args, "--help"])
    assert result.exit_code == 0, result.output
