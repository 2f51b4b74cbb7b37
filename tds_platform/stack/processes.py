"""Small process helpers for the local stack: run as the service user, wait for a port.

Root cannot run `postgres`, and Mosquitto drops to its own user, so files they write must be
owned by those users; these helpers are the only place that knows it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerStatus:
    """What `tds stack status` shows for one server."""

    running: bool
    port: int
    pid: int | None
    version: str | None


class StackError(RuntimeError):
    """A local-stack operation failed for a reason the user can act on (message says how)."""


def is_root() -> bool:
    return os.geteuid() == 0


def service_user(name: str) -> str | None:
    """The system user a server must run as when we are root, or None to run as ourselves."""
    if not is_root():
        return None
    try:
        pwd.getpwnam(name)
    except KeyError as exc:
        raise StackError(f"system user {name!r} is missing; run `make up` to install packages") from exc
    return name


def chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)


def run_as(user: str | None, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run `argv` as `user` (via runuser when we are root), capturing output as text."""
    cmd = list(argv) if user is None else ["runuser", "-u", user, "--", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]


def unreachable_folder(path: Path, user: str | None) -> Path | None:
    """The first folder on the way from / to `path` that `user` may not enter; None when it reaches
    `path` (or we run the servers as ourselves). Asked of the system as that user, so ACLs count."""
    if user is None or run_as(user, ["test", "-x", str(path)]).returncode == 0:
        return None
    return next((folder for folder in [*reversed(path.parents), path]
                 if run_as(user, ["test", "-x", str(folder)]).returncode != 0), path)


def find_binary(name: str, *candidates: str) -> str:
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise StackError(f"`{name}` is not installed; run `make up` (it installs it) or see README")
    return found


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout_s: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    hint = f"; see {log}" if log else ""
    raise StackError(f"{what} did not accept connections on port {port} within {timeout_s:.0f}s{hint}")


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (an exited daemon nobody reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
