"""Where the local stack keeps its files and which ports it listens on.

One folder holds everything (`.tds/` by default) so `make down` + `rm -rf .tds` is a full reset;
nothing here may point outside that folder.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
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
    with_timescaledb: bool = True
    durable: bool = True
    # `timescaledb.license` at server start: one build with the Timescale-License code serves both
    # editions, so the stack says which one it runs instead of taking whatever the build defaults to.
    timescaledb_license: str = "apache"

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
    def load(cls, root: Path = DEFAULT_ROOT) -> StackLayout:
        """The layout saved by the last `up` in `root`, or the defaults if there was none."""
        state = root / "stack.json"
        if not state.exists():
            return cls(root=root.absolute())
        data = json.loads(state.read_text())
        data["root"] = Path(data["root"])
        return cls(**data)
