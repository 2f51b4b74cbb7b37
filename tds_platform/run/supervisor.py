"""Starts the platform's long-running processes, watches them, and stops them all on Ctrl-C.

Each child runs in its own session with its log under the stack folder and a pid file, so
`tds down` from another shell stops exactly what `tds up` started and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tds_platform.stack.processes import pid_alive, read_pid


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def _pid_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def start(self, service: Service) -> None:
        log = self.log_path(service.name).open("ab")
        child = subprocess.Popen(
            list(service.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **service.env}, start_new_session=True,
        )
        self.children[service.name] = child
        self._pid_path(service.name).write_text(f"{child.pid}\n")

    def exited(self) -> dict[str, int]:
        """Children that stopped on their own since the last call, with their exit codes."""
        gone = {name: code for name, child in self.children.items() if (code := child.poll()) is not None}
        for name in gone:
            del self.children[name]
            self._pid_path(name).unlink(missing_ok=True)
        return gone

    def stop_all(self, timeout_s: float = 15) -> None:
        stop_recorded(self.run_dir, timeout_s)
        for child in self.children.values():
            child.wait(timeout=1)
        self.children.clear()


def stop_recorded(run_dir: Path, timeout_s: float = 15) -> list[str]:
    """Stop every process with a pid file in run_dir, with all its descendants (SIGTERM, then SIGKILL).

    A process group is not enough: `dagster dev` starts its code servers and runs in sessions of
    their own, and they outlived it (seen after Ctrl-C). The tree is read before anything is
    signalled, while the parents still know their children.
    """
    stopped: list[str] = []
    victims: list[psutil.Process] = []
    pid_files = sorted(run_dir.glob("*.pid")) if run_dir.exists() else []
    for pid_file in pid_files:
        pid = read_pid(pid_file)
        if pid is None or not pid_alive(pid):
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            victims += [root, *root.children(recursive=True)]
            stopped.append(pid_file.stem)
    for process in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _gone, alive = psutil.wait_procs(victims, timeout=timeout_s)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    return stopped
