"""Where the local stack keeps its files and which ports it listens on.

One folder holds everything (`.tds/` by default) so `make down` + `rm -rf .tds` is a full reset;
nothing here may point outside that folder.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULT_ROOT = Path(".tds")
# Non-default ports, so a user's own PostgreSQL (5432) or broker (1883) is never touched.
DEFAULT_PG_PORT = 55432
DEFAULT_MQTT_PORT = 51883


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now (for test sessions)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class StackLayout:
    """Paths and ports of one local stack; persisted so `status` and `down` find it again."""

    root: Path
    pg_port: int = DEFAULT_PG_PORT
    mqtt_port: int = DEFAULT_MQTT_PORT  # devices
    mqtt_service_port: int | None = None  # the platform's own services; default: mqtt_port + 1
    # "full", "apache" or "none" (plain PostgreSQL): one TimescaleDB build with the Timescale-License
    # code serves both editions (`timescaledb.license` at server start), so the stack says which one
    # it runs instead of taking the build's default. Fixed when the cluster is made: a database with
    # continuous aggregates cannot move to the Apache edition.
    edition: str = "apache"
    durable: bool = True

    @property
    def with_timescaledb(self) -> bool:
        return self.edition != "none"

    @property
    def pg_data(self) -> Path:
        return self.root / "postgres" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.root / "postgres" / "run"

    @property
    def pg_log(self) -> Path:
        return self.root / "postgres" / "postgres.log"

    @property
    def pg_logins(self) -> Path:
        """The service logins' passwords (mode 0600), as `.env` holds them in production."""
        return self.root / "postgres" / "logins.json"

    @property
    def mqtt_dir(self) -> Path:
        return self.root / "mosquitto"

    @property
    def mqtt_conf(self) -> Path:
        return self.mqtt_dir / "mosquitto.conf"

    @property
    def mqtt_data(self) -> Path:
        return self.mqtt_dir / "data"

    @property
    def mqtt_pid(self) -> Path:
        return self.mqtt_dir / "mosquitto.pid"

    @property
    def mqtt_log(self) -> Path:
        return self.mqtt_dir / "mosquitto.log"

    @property
    def service_port(self) -> int:
        """The broker listener of the writers and the platform (devices use `mqtt_port`)."""
        return self.mqtt_service_port or self.mqtt_port + 1

    @property
    def mqtt_devices_passwd(self) -> Path:
        return self.mqtt_dir / "devices"

    @property
    def mqtt_devices_acl(self) -> Path:
        return self.mqtt_dir / "devices.acl"

    @property
    def mqtt_services_passwd(self) -> Path:
        return self.mqtt_dir / "services"

    @property
    def mqtt_services_acl(self) -> Path:
        return self.mqtt_dir / "acl"

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"root": str(self.root)}
        self.state_file.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, root: Path = DEFAULT_ROOT, edition: str = "apache") -> StackLayout:
        """The layout saved by the last `up` in `root`, or the defaults (and `edition`) if there was none."""
        state = root / "stack.json"
        if not state.exists():
            return cls(root=root.absolute(), edition=edition)
        data = json.loads(state.read_text())
        data["root"] = Path(data["root"])
        if "with_timescaledb" in data:  # written before the edition was chosen per stack
            data["edition"] = "apache" if data.pop("with_timescaledb") else "none"
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})
