"""What `tds up` runs on one machine: two stream writers in one group, the simulator, Dagster.

A pure description (commands and environment) built from the stack layout, so it is testable
without starting anything; credentials come from the stack's own files, never from the repo.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tds_platform.alerting.settings import AlertSettings
from tds_platform.run.supervisor import Service
from tds_platform.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
WRITER_LOGIN = "tds_ingest"


@dataclass(frozen=True)
class PlatformPorts:
    ui: int = 3000
    first_writer_http: int = 9108


def _bin(name: str) -> str:
    """A console script of this virtualenv (works without activating it)."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def dagster_home(stack: LocalStack) -> Path:
    """DAGSTER_HOME under the stack folder, holding the repo's dagster.yaml."""
    home = stack.layout.root / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


def alert_file(stack: LocalStack) -> Path:
    """Where the local platform's alert notifications land (one JSON line each), unless
    TDS_ALERT_FILE says otherwise: a sink that works with nothing configured."""
    return AlertSettings().file or stack.layout.root / "run" / "alerts.jsonl"


def platform_env(stack: LocalStack) -> dict[str, str]:
    """The environment every platform process shares: one database URL for everything."""
    return {
        "TDS_ALERT_FILE": str(alert_file(stack)),
        "TDS_DATABASE_URL": stack.database_url(),
        # dagster-postgres speaks psycopg2; SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://.
        "TDS_DAGSTER_DATABASE_URL": stack.database_url("dagster").replace("postgresql://", "postgresql+psycopg2://", 1),
        "TDS_MQTT_URL": stack.platform_mqtt_url(),
        "TDS_STACK_DIR": str(stack.layout.root),
    }


def writer_services(stack: LocalStack, ports: PlatformPorts, count: int = 2) -> list[Service]:
    services = []
    for n in range(1, count + 1):
        env = {
            "TDS_DATABASE_URL": stack.database_url(login=WRITER_LOGIN),
            "TDS_MQTT_URL": stack.writer_mqtt_url(),
            "TDS_MQTT_GROUP": "local",
            "TDS_INSTANCE_ID": f"local-{n}",
            "TDS_HTTP_HOST": "127.0.0.1",
            "TDS_HTTP_PORT": str(ports.first_writer_http + n - 1),
        }
        services.append(Service(f"writer-{n}", [_bin("tds-ingest"), "run"], env))
    return services


def simulator_service(stack: LocalStack, history: str = "6h") -> Service:
    """A fleet with the demo faults on: gaps, bad values, malformed payloads, duplicates, late data."""
    argv = [_bin("tds"), "simulate", "--stack-dir", str(stack.layout.root), "--history", history,
            "--faults", "demo"]
    return Service("simulator", argv, {})


def dagster_service(stack: LocalStack, ports: PlatformPorts) -> Service:
    argv = [_bin("dagster"), "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(ports.ui)]
    return Service("dagster", argv, {**platform_env(stack), "DAGSTER_HOME": str(dagster_home(stack))})


def kickoff_service(stack: LocalStack, ports: PlatformPorts) -> Service:
    """One-shot: submit the first rollup and quality runs (through the UI) as soon as the history has landed."""
    env = {**platform_env(stack), "DAGSTER_HOME": str(dagster_home(stack))}
    return Service("kickoff", [sys.executable, "-m", "tds_platform.run.kickoff", str(ports.ui)], env)


def platform_services(stack: LocalStack, ports: PlatformPorts, history: str = "6h",
                      with_dagster: bool = True) -> list[Service]:
    services = [*writer_services(stack, ports), simulator_service(stack, history)]
    if with_dagster:
        services += [dagster_service(stack, ports), kickoff_service(stack, ports)]
    return services
