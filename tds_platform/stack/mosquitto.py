"""The project-owned Mosquitto broker of the local stack, configured so it loses nothing.

Mosquitto's defaults drop queued QoS 1 messages (1,000 per client) and forget every session on a
restart; this module writes a config that never does, and never touches a system broker.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
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
    service_user,
    wait_for_exit,
    wait_for_port,
)

# Service accounts: the writer may only read telemetry topics; the platform may only send
# commands to devices. Devices log in with their tenant as username (see ACL patterns below).
WRITER_USER = "tds-ingest"
PLATFORM_USER = "tds-platform"

# The production broker ships the same rules (deploy/mosquitto/acl); tests/deploy keeps them equal.
ACL = """\
# written by `tds stack up`. Nothing is anonymous; devices publish only under their own tenant.
user tds-ingest
topic read tds/#
topic read $SYS/broker/uptime

user tds-platform
topic write tds/+/+/+/cmd
topic read tds/+/+/+/ack

# A device logs in with its tenant id as username: it may publish its readings, events and acks
# under tds/<tenant>/... and read commands addressed to its tenant.
pattern write tds/%u/+/+/telem
pattern write tds/%u/+/+/event
pattern write tds/%u/+/+/ack
pattern read tds/%u/+/+/cmd
"""


def render_config(layout: StackLayout) -> str:
    """The broker config; every data-loss default is overridden on purpose."""
    root = layout.mqtt_dir.absolute()
    return f"""\
# written by `tds stack up` — see README "Broker configuration" for why each line is here.
per_listener_settings false
allow_anonymous false
password_file {root}/passwd
acl_file {root}/acl

listener {layout.mqtt_port} 127.0.0.1

# Queued QoS 1 messages survive a broker restart.
persistence true
persistence_location {root}/data/
autosave_interval 10
autosave_on_changes false

# The default (1,000 queued messages per client) silently discards the rest of a backlog while
# a writer is down. 0 = no limit on count or bytes: the writer's session keeps everything.
max_queued_messages 0
max_queued_bytes 0
# Outgoing in-flight window; MQTT 5 writers narrow it with their ReceiveMaximum.
max_inflight_messages 0
set_tcp_nodelay true

pid_file {root}/mosquitto.pid
log_dest file {root}/mosquitto.log
log_type error
log_type warning
log_type notice
connection_messages true
log_timestamp_format %Y-%m-%dT%H:%M:%S
"""


class LocalMosquitto:
    """Start / stop / accounts of the broker described by a StackLayout."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout
        self.user = service_user("mosquitto")
        self.binary = find_binary("mosquitto", "/usr/sbin/mosquitto")

    @property
    def credentials_file(self) -> Path:
        return self.layout.mqtt_dir / "credentials.json"

    def credentials(self) -> dict[str, str]:
        if not self.credentials_file.exists():
            return {}
        return dict(json.loads(self.credentials_file.read_text()))

    def url(self, username: str, scheme: str = "mqtt") -> str:
        password = self.credentials().get(username)
        if password is None:
            raise StackError(f"no MQTT account {username!r} in the local stack; add it with `tds stack user`")
        return f"{scheme}://{username}:{password}@127.0.0.1:{self.layout.mqtt_port}"

    def ensure_user(self, username: str, password: str | None = None) -> str:
        """Create (or keep) an account; a running broker reloads its password file."""
        creds = self.credentials()
        if username in creds and password in (None, creds[username]):
            return creds[username]
        creds[username] = password or secrets.token_urlsafe(18)
        self._write_password_file(creds)
        self.reload()
        return creds[username]

    def remove_user(self, username: str) -> None:
        """Revoke an account (a device tenant); a running broker refuses new logins with it at once."""
        if username in (WRITER_USER, PLATFORM_USER):
            raise StackError(f"{username!r} is a service account of the platform and cannot be removed")
        creds = self.credentials()
        if creds.pop(username, None) is None:
            raise StackError(f"no MQTT account {username!r} in the local stack")
        self._write_password_file(creds)
        self.reload()

    def _write_password_file(self, creds: dict[str, str]) -> None:
        mqtt_dir = self.layout.mqtt_dir
        mqtt_dir.mkdir(parents=True, exist_ok=True)
        self.credentials_file.write_text(json.dumps(creds, indent=2) + "\n")
        os.chmod(self.credentials_file, 0o600)
        passwd = self.layout.mqtt_passwd
        passwd.write_text("".join(f"{user}:{pw}\n" for user, pw in creds.items()))
        tool = find_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
        result = subprocess.run([tool, "-U", str(passwd)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"mosquitto_passwd failed: {result.stderr.strip()}")
        os.chmod(passwd, 0o600)
        chown_tree(mqtt_dir, self.user)

    def prepare(self) -> None:
        layout = self.layout
        layout.mqtt_data.mkdir(parents=True, exist_ok=True)
        layout.mqtt_conf.write_text(render_config(layout))
        layout.mqtt_acl.write_text(ACL)
        creds = self.credentials()
        for account in (WRITER_USER, PLATFORM_USER):
            creds.setdefault(account, secrets.token_urlsafe(18))
        self._write_password_file(creds)

    def start(self, timeout_s: float = 30) -> None:
        if self.status().running:
            return
        if port_open(self.layout.mqtt_port):
            raise StackError(
                f"port {self.layout.mqtt_port} is taken by another program; "
                "stop it or choose another port with --mqtt-port"
            )
        self.prepare()
        result = subprocess.run([self.binary, "-c", str(self.layout.mqtt_conf.absolute()), "-d"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"Mosquitto did not start: {result.stderr.strip()} (see {self.layout.mqtt_log})")
        wait_for_port(self.layout.mqtt_port, timeout_s, "Mosquitto", self.layout.mqtt_log)

    def _pid(self) -> int | None:
        pid = read_pid(self.layout.mqtt_pid)
        return pid if pid is not None and pid_alive(pid) else None

    def reload(self) -> None:
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)
            time.sleep(0.2)

    def stop(self, timeout_s: float = 20, sig: int = signal.SIGTERM) -> None:
        """SIGTERM makes Mosquitto write its persistence file before exiting."""
        pid = self._pid()
        if pid is None:
            return
        os.kill(pid, sig)
        if not wait_for_exit(pid, timeout_s):
            raise StackError(f"Mosquitto (pid {pid}) did not stop within {timeout_s:.0f}s")
        self.layout.mqtt_pid.unlink(missing_ok=True)

    def status(self) -> ServerStatus:
        pid = self._pid()
        running = pid is not None and port_open(self.layout.mqtt_port)
        version = None
        result = subprocess.run([self.binary, "-h"], capture_output=True, text=True, check=False)
        first = (result.stdout or result.stderr).splitlines()
        if first and "version" in first[0]:
            version = first[0].split("version", 1)[1].strip()
        return ServerStatus(running=running, port=self.layout.mqtt_port, pid=pid, version=version)
