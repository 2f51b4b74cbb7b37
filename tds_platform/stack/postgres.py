"""The project-owned PostgreSQL 15 cluster of the local stack (TimescaleDB preloaded).

Runs on its own port and socket folder under the stack root; it never starts, stops or reads a
system-wide cluster.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

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
TIMESCALEDB_CONTROL = Path("/usr/share/postgresql/15/extension/timescaledb.control")
DATABASES = ("tds", "dagster")


def timescaledb_installed() -> bool:
    return TIMESCALEDB_CONTROL.exists()


class LocalPostgres:
    """initdb / start / stop of one cluster described by a StackLayout."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout
        self.user = service_user("postgres")

    def _bin(self, name: str) -> str:
        return find_binary(name, str(PG_BIN / name))

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.layout.pg_port}/postgres"

    def url(self, database: str = "tds", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.layout.pg_port}/{database}"

    def _conf_lines(self) -> list[str]:
        layout = self.layout
        lines = [
            f"port = {layout.pg_port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{layout.pg_socket_dir.absolute()}'",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
            "timescaledb.telemetry_level = off",
        ]
        if layout.with_timescaledb:
            if not timescaledb_installed():
                raise StackError(
                    "the TimescaleDB extension is not installed; run `make up` (it builds it) "
                    "or start the stack without it"
                )
            lines += ["shared_preload_libraries = 'timescaledb'",
                      f"timescaledb.license = '{layout.timescaledb_license}'"]
        else:
            lines = [line for line in lines if not line.startswith("timescaledb.")]
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
            return
        result = run_as(
            self.user,
            [self._bin("initdb"), "-D", str(data.absolute()), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C.UTF-8"],
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def _write_conf(self) -> None:
        conf = self.layout.pg_data / "postgresql.auto.conf"
        conf.write_text("# written by `tds stack up`: edit the stack layout, not this file\n"
                        + "\n".join(self._conf_lines()) + "\n")
        chown_tree(conf.parent, self.user)

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
        self._create_databases()

    def _create_databases(self) -> None:
        psql = self._bin("psql")
        for name in DATABASES:
            exists = run_as(self.user, [psql, "-h", str(self.layout.pg_socket_dir.absolute()),
                                        "-p", str(self.layout.pg_port), "-U", "postgres", "-tAc",
                                        f"SELECT 1 FROM pg_database WHERE datname = '{name}'"])
            if exists.stdout.strip() == "1":
                continue
            created = run_as(self.user, [psql, "-h", str(self.layout.pg_socket_dir.absolute()),
                                         "-p", str(self.layout.pg_port), "-U", "postgres", "-c",
                                         f'CREATE DATABASE "{name}"'])
            if created.returncode != 0:
                raise StackError(f"could not create database {name}: {created.stderr.strip()}")

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
                                            "-p", str(self.layout.pg_port), "-U", "postgres", "-tAc",
                                            "SHOW server_version"])
                if result.returncode == 0:
                    version = result.stdout.strip()
                    break
                time.sleep(0.2)
        return ServerStatus(running=running, port=self.layout.pg_port, pid=pid, version=version)

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.layout.pg_data.parent, ignore_errors=True)
