"""The project-owned Mosquitto broker of the local stack, configured as the production broker is.

Mosquitto's defaults drop queued QoS 1 messages (1,000 per client) and forget every session on a
restart; this module writes a config that never does, and never touches a system broker. Like
deploy/mosquitto it has two listeners with their own accounts: devices, whose client id is their
account name (so a device can never connect with a writer's client id), and the platform's services.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from ingest_stream.parsing.names import is_safe_name
from ingest_stream.settings import DEFAULT_MAX_PAYLOAD_BYTES
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
# commands to devices. They log in on the service listener only.
WRITER_USER = "tds-ingest"
PLATFORM_USER = "tds-platform"
SERVICE_ACCOUNTS = (WRITER_USER, PLATFORM_USER)

# A device account is a tenant id, or <tenant>~<device> for more connections of one tenant: on the
# device listener the client id is the account name, so one account serves one connection at a time.
DEVICE_SEPARATOR = "~"

# The production broker ships the same rules (deploy/mosquitto/acl); tests/deploy keeps them equal.
SERVICES_ACL = """\
# written by `tds stack up`. The platform's services; devices have an ACL of their own.
user tds-ingest
topic read tds/#
topic read $SYS/broker/uptime

user tds-platform
topic write tds/+/+/+/cmd
topic read tds/+/+/+/ack
"""

# What every device account may do, in its tenant only (deploy/mosquitto/device-account writes the same).
_DEVICE_RULES = ("topic write tds/{tenant}/+/+/telem", "topic write tds/{tenant}/+/+/event",
                 "topic write tds/{tenant}/+/+/ack", "topic read tds/{tenant}/+/+/cmd")

# Room for a PUBLISH's topic and properties on top of the largest payload the writers accept.
PACKET_OVERHEAD_BYTES = 64 * 1024


def tenant_of(account: str) -> str:
    """The tenant a device account publishes for; StackError when the name is not a device account.
    Tenant and device are safe names without ':', which ends a user name in a Mosquitto password file."""
    tenant, separator, device = account.partition(DEVICE_SEPARATOR)
    if ":" in account or not is_safe_name(tenant) or (separator and not is_safe_name(device)):
        raise StackError(f"{account!r} is not a device account name: use a tenant id, or "
                         f"<tenant>{DEVICE_SEPARATOR}<device> for more connections of one tenant (no ':')")
    return tenant


def devices_acl(accounts: Iterable[str]) -> str:
    """The device listener's ACL: each account may publish and read under its own tenant only."""
    blocks = ["# written by `tds stack up` from the device accounts"]
    for account in accounts:
        tenant = tenant_of(account)
        blocks.append("\n".join([f"user {account}", *(rule.format(tenant=tenant) for rule in _DEVICE_RULES)]))
    return "\n\n".join(blocks) + "\n"


def render_config(layout: StackLayout) -> str:
    """The broker config; every data-loss default is overridden on purpose."""
    root = layout.mqtt_dir.absolute()
    return f"""\
# written by `tds stack up` — the same shape as deploy/mosquitto/mosquitto.conf, which says why.
per_listener_settings true

# Devices: a device's client id is its account name.
listener {layout.mqtt_port} 127.0.0.1
allow_anonymous false
use_username_as_clientid true
password_file {root}/devices
acl_file {root}/devices.acl

# The platform's services: the writers and the platform.
listener {layout.service_port} 127.0.0.1
allow_anonymous false
password_file {root}/services
acl_file {root}/acl

# In step with the writers' TDS_MAX_PAYLOAD_BYTES.
message_size_limit {DEFAULT_MAX_PAYLOAD_BYTES}
max_packet_size {DEFAULT_MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES}

# Queued QoS 1 messages survive a broker restart, and a crash but for the last 2 s.
persistence true
persistence_location {root}/data/
autosave_interval 1
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
        """A login URL: service accounts on the service listener, devices on theirs."""
        password = self.credentials().get(username)
        if password is None:
            raise StackError(f"no MQTT account {username!r} in the local stack; add it with `tds stack user`")
        port = self.layout.service_port if username in SERVICE_ACCOUNTS else self.layout.mqtt_port
        return f"{scheme}://{username}:{password}@127.0.0.1:{port}"

    def ensure_user(self, username: str, password: str | None = None) -> str:
        """Create (or keep) an account; a running broker reloads its accounts."""
        if username not in SERVICE_ACCOUNTS:
            tenant_of(username)
        creds = self.credentials()
        if username in creds and password in (None, creds[username]):
            return creds[username]
        creds[username] = password or secrets.token_urlsafe(18)
        self._write_accounts(creds)
        self.reload()
        return creds[username]

    def remove_user(self, username: str) -> None:
        """Revoke a device account; a running broker refuses new logins with it at once."""
        if username in SERVICE_ACCOUNTS:
            raise StackError(f"{username!r} is a service account of the platform and cannot be removed")
        creds = self.credentials()
        if creds.pop(username, None) is None:
            raise StackError(f"no MQTT account {username!r} in the local stack")
        self._write_accounts(creds)
        self.reload()

    def _write_accounts(self, creds: dict[str, str]) -> None:
        """credentials.json, both listeners' password files and the device ACL."""
        mqtt_dir = self.layout.mqtt_dir
        mqtt_dir.mkdir(parents=True, exist_ok=True)
        self.credentials_file.write_text(json.dumps(creds, indent=2) + "\n")
        os.chmod(self.credentials_file, 0o600)
        devices = {user: pw for user, pw in creds.items() if user not in SERVICE_ACCOUNTS}
        services = {user: pw for user, pw in creds.items() if user in SERVICE_ACCOUNTS}
        self._write_password_file(self.layout.mqtt_services_passwd, services)
        self._write_password_file(self.layout.mqtt_devices_passwd, devices)
        self.layout.mqtt_devices_acl.write_text(devices_acl(devices))
        os.chmod(self.layout.mqtt_devices_acl, 0o600)
        chown_tree(mqtt_dir, self.user)

    @staticmethod
    def _write_password_file(path: Path, accounts: dict[str, str]) -> None:
        path.write_text("".join(f"{user}:{pw}\n" for user, pw in accounts.items()))
        os.chmod(path, 0o600)
        if not accounts:
            return  # mosquitto_passwd -U reads an empty file fine, but there is nothing to hash
        tool = find_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
        result = subprocess.run([tool, "-U", str(path)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"mosquitto_passwd failed: {result.stderr.strip()}")

    def prepare(self) -> None:
        layout = self.layout
        layout.mqtt_data.mkdir(parents=True, exist_ok=True)
        layout.mqtt_conf.write_text(render_config(layout))
        layout.mqtt_services_acl.write_text(SERVICES_ACL)
        creds = self.credentials()
        for account in SERVICE_ACCOUNTS:
            creds.setdefault(account, secrets.token_urlsafe(18))
        self._write_accounts(creds)

    def start(self, timeout_s: float = 30) -> None:
        if self.status().running:
            return
        for port in (self.layout.mqtt_port, self.layout.service_port):
            if port_open(port):
                raise StackError(
                    f"port {port} is taken by another program; stop it or choose other ports with --mqtt-port "
                    "(the service listener takes the next port)"
                )
        self.prepare()
        result = subprocess.run([self.binary, "-c", str(self.layout.mqtt_conf.absolute()), "-d"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"Mosquitto did not start: {result.stderr.strip()} (see {self.layout.mqtt_log})")
        for port in (self.layout.mqtt_port, self.layout.service_port):
            wait_for_port(port, timeout_s, "Mosquitto", self.layout.mqtt_log)

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
