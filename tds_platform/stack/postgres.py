"""The project-owned PostgreSQL 15 cluster of the local stack (TimescaleDB preloaded), in the shape we ship.

Runs on its own port and socket folder under the stack root; it never starts, stops or reads a
system-wide cluster. Services log in over TCP with passwords, under the logins the production init
script makes; the superuser is reachable only through the stack's own socket folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from tds_platform.db import migrate
from tds_platform.db.engine import engine_for
from tds_platform.stack.layout import StackLayout
from tds_platform.stack.processes import (
    ServerStatus,
    StackError,
    chown_tree,
    find_binary,
    pid_alive,
    port_open,
    read_pid,
    run_as,
    service_user,
    wait_for_exit,
    wait_for_port,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_LIB = Path("/usr/lib/postgresql/15/lib")
TIMESCALEDB_CONTROL = Path("/usr/share/postgresql/15/extension/timescaledb.control")
REPO = Path(__file__).resolve().parents[2]
# The same file the timescaledb image runs on an empty volume and compose's db-roles service on every start.
LOGINS_SCRIPT = REPO / "deploy" / "postgres" / "initdb" / "10-tds-logins.sh"
SERVICE_LOGINS = ("tds_owner", "tds_ingest", "tds_dagster", "tds_grafana")
SUPERUSER = "postgres"
APP_DATABASE = "tds"
LICENSES = {"full": "timescale", "apache": "apache"}

# Only the server's own OS user (and root) may use the socket, where the superuser needs no password.
PG_HBA = """\
# written by `tds stack up`. The superuser only through the stack's socket folder (mode 0700);
# every service logs in over TCP with its password, as in production.
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
"""


def timescaledb_installed() -> bool:
    return TIMESCALEDB_CONTROL.exists()


def full_edition_installed() -> bool:
    """The installed TimescaleDB build carries the Timescale-License code (continuous aggregates...).

    Debian's build is Apache-only; Timescale's own packages and images ship the TSL library beside it."""
    if not timescaledb_installed():
        return False
    version = re.search(r"default_version\s*=\s*'([^']+)'", TIMESCALEDB_CONTROL.read_text())
    return version is not None and (PG_LIB / f"timescaledb-tsl-{version.group(1)}.so").exists()


def best_edition() -> str:
    """What a new local stack runs: the edition production runs when this machine has it."""
    if full_edition_installed():
        return "full"
    return "apache" if timescaledb_installed() else "none"


class LocalPostgres:
    """initdb / start / stop of one cluster described by a StackLayout, and its service logins."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout
        self.user = service_user("postgres")

    def _bin(self, name: str) -> str:
        return find_binary(name, str(PG_BIN / name))

    def admin_url(self, database: str = "postgres") -> str:
        """The superuser, through the socket folder: for setting up and inspecting, never for a service."""
        return (f"postgresql://{SUPERUSER}@/{database}"
                f"?host={self.layout.pg_socket_dir.absolute()}&port={self.layout.pg_port}")

    def url(self, database: str = APP_DATABASE, login: str = "tds_dagster") -> str:
        """A service login's URL over TCP with its password (the superuser: `admin_url`). Without a
        stack there is no password to add: the URL still names the login, and connecting says why."""
        if login == SUPERUSER:
            return self.admin_url(database)
        password = self.logins().get(login)
        credentials = login if password is None else f"{login}:{password}"
        return f"postgresql://{credentials}@127.0.0.1:{self.layout.pg_port}/{database}"

    def logins(self) -> dict[str, str]:
        path = self.layout.pg_logins
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def _conf_lines(self) -> list[str]:
        layout = self.layout
        lines = [
            f"port = {layout.pg_port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{layout.pg_socket_dir.absolute()}'",
            "unix_socket_permissions = 0700",
            "password_encryption = 'scram-sha-256'",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
        ]
        if layout.with_timescaledb:
            if not timescaledb_installed():
                raise StackError(
                    "the TimescaleDB extension is not installed; run `make up` (it builds it) "
                    "or start the stack without it"
                )
            if layout.edition == "full" and not full_edition_installed():
                raise StackError(
                    f"the stack in {layout.root} runs TimescaleDB's full edition, but only the Apache build is "
                    "installed: install Timescale's own package (see DEVELOPERS.md) or make a new stack folder"
                )
            lines += ["shared_preload_libraries = 'timescaledb'", "timescaledb.telemetry_level = off",
                      f"timescaledb.license = '{LICENSES[layout.edition]}'"]
        if not layout.durable:
            # Test clusters trade crash safety of the OS for speed; a stopped server is still clean.
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        return lines

    def initialised(self) -> bool:
        return (self.layout.pg_data / "PG_VERSION").exists()

    def init(self) -> None:
        data = self.layout.pg_data
        data.parent.mkdir(parents=True, exist_ok=True)
        self.layout.pg_socket_dir.mkdir(parents=True, exist_ok=True)
        chown_tree(data.parent, self.user)
        if self.initialised():
            if not self.layout.pg_logins.exists():
                raise StackError(
                    f"the local stack in {self.layout.root} was made before services had their own database "
                    f"logins; remove it (`tds down`, then `rm -rf {self.layout.root}`) and start again"
                )
            return
        result = run_as(
            self.user,
            [self._bin("initdb"), "-D", str(data.absolute()), "--auth-local=trust",
             "--auth-host=scram-sha-256", "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8"],
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip()[-500:]}")
        self._write_logins()

    def _write_logins(self) -> None:
        path = self.layout.pg_logins
        path.write_text(json.dumps({login: secrets.token_hex(16) for login in SERVICE_LOGINS}, indent=2) + "\n")
        os.chmod(path, 0o600)

    def _write_conf(self) -> None:
        data = self.layout.pg_data
        (data / "postgresql.auto.conf").write_text("# written by `tds stack up`: edit the stack layout, not this file\n"
                                                  + "\n".join(self._conf_lines()) + "\n")
        (data / "pg_hba.conf").write_text(PG_HBA)
        chown_tree(data, self.user)

    def start(self, timeout_s: float = 60) -> None:
        if self.status().running:
            return
        if port_open(self.layout.pg_port):
            raise StackError(
                f"port {self.layout.pg_port} is taken by another program; "
                "stop it or choose another port with --pg-port"
            )
        self.init()
        self._write_conf()
        log = self.layout.pg_log
        log.touch()
        chown_tree(log.parent, self.user)
        result = run_as(
            self.user,
            [self._bin("pg_ctl"), "-D", str(self.layout.pg_data.absolute()), "-l", str(log.absolute()),
             "-w", "-t", str(int(timeout_s)), "start"],
        )
        if result.returncode != 0:
            tail = log.read_text()[-800:] if log.exists() else result.stderr
            raise StackError(f"PostgreSQL did not start: {tail.strip()}")
        wait_for_port(self.layout.pg_port, timeout_s, "PostgreSQL", log)

    def provision(self, database: str = APP_DATABASE) -> None:
        """What the timescaledb image does on an empty volume: the database with its extension, then
        the shipped logins script (idempotent, so every start runs it again)."""
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        if self.layout.with_timescaledb:
            with psycopg.connect(self.admin_url(database), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        passwords = self.logins()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGHOST": str(self.layout.pg_socket_dir.absolute()), "PGPORT": str(self.layout.pg_port),
            "POSTGRES_USER": SUPERUSER, "POSTGRES_DB": database,
            **{f"TDS_DB_{login.removeprefix('tds_').upper()}_PASSWORD": passwords[login] for login in SERVICE_LOGINS},
        }
        result = subprocess.run(["sh", str(LOGINS_SCRIPT)], env=env, capture_output=True, text=True,
                                check=False, timeout=120)
        if result.returncode != 0:
            raise StackError(f"creating the service logins failed: {result.stderr.strip()[-500:]}")

    def create_database(self, name: str) -> None:
        """A fresh database made as production's is (provisioned, migrated by the owner); one of that
        name left by an earlier run is dropped first. For benchmarks and tests, never for `tds`."""
        self.drop_database(name)
        self.provision(name)
        owner_url = self.url(name, "tds_owner")
        migrate.upgrade(owner_url)
        engine_for(owner_url).dispose()

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self, mode: str = "fast", timeout_s: float = 60) -> None:
        pid = read_pid(self.layout.pg_data / "postmaster.pid")
        if pid is None or not pid_alive(pid):
            return
        result = run_as(self.user, [self._bin("pg_ctl"), "-D", str(self.layout.pg_data.absolute()),
                                    "-m", mode, "-w", "-t", str(int(timeout_s)), "stop"])
        # pg_ctl returns when postmaster.pid is gone; the postmaster itself exits a moment later.
        if not wait_for_exit(pid, timeout_s):
            raise StackError(f"PostgreSQL (pid {pid}) did not stop: {result.stderr.strip()}")

    def kill(self) -> None:
        """Crash the server (SIGKILL of the postmaster and children), for fault-injection tests."""
        self.stop(mode="immediate")

    def status(self) -> ServerStatus:
        pid = read_pid(self.layout.pg_data / "postmaster.pid")
        running = pid is not None and port_open(self.layout.pg_port)
        version = None
        if running:
            for _ in range(3):
                result = run_as(self.user, [self._bin("psql"), "-h", str(self.layout.pg_socket_dir.absolute()),
                                            "-p", str(self.layout.pg_port), "-U", SUPERUSER, "-tAc",
                                            "SHOW server_version"])
                if result.returncode == 0:
                    version = result.stdout.strip()
                    break
                time.sleep(0.2)
        return ServerStatus(running=running, port=self.layout.pg_port, pid=pid, version=version)
