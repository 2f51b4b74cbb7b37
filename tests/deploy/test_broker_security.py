"""Broker security and durability, against real Mosquitto: the local stack's and the shipped production config.

The production broker is deploy/mosquitto started through its own entrypoint.sh, with paths
rewritten into a temporary folder, so the files users deploy are the files tested here.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest_stream.settings import DEFAULT_MAX_PAYLOAD_BYTES
from tds_platform.stack import LocalStack, StackError
from tds_platform.stack.layout import free_port
from tds_platform.stack.mosquitto import PLATFORM_USER, SERVICES_ACL, WRITER_USER, devices_acl, render_config
from tds_platform.stack.processes import chown_tree, service_user, wait_for_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY_BROKER = REPO / "deploy" / "mosquitto"
NOT_AUTHORIZED = 0x87
BAD_CREDENTIALS = 0x86
TIMEOUT_S = 5.0


# --- a small MQTT 5 client that records what the broker answered --------------------------------

@dataclass
class Session:
    client: mqtt.Client
    connack: ReasonCode | None = None
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    connected: threading.Event = field(default_factory=threading.Event)
    acked: threading.Condition = field(default_factory=threading.Condition)

    @property
    def connack_code(self) -> int:
        """0 when the broker accepted the login, else the MQTT 5 reason code it refused it with."""
        assert self.connack is not None
        return int(self.connack.value)

    def publish(self, topic: str, payload: bytes = b'{"schema":"v1","points":[]}') -> ReasonCode:
        """QoS 1 publish; the PUBACK reason code says whether the ACL let it through."""
        info = self.client.publish(topic, payload, qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.pubacks, TIMEOUT_S), f"no PUBACK for {topic}"
            return self.pubacks[info.mid]

    def subscribe(self, topic_filter: str) -> list[ReasonCode]:
        _result, mid = self.client.subscribe(topic_filter, qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: mid in self.subacks, TIMEOUT_S), f"no SUBACK for {topic_filter}"
            return self.subacks[mid]

    def next_message(self, timeout_s: float = TIMEOUT_S) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def open_session(url: str, ca_file: Path | None = None, session_expiry_s: int = 0,
                 client_id: str | None = None, clean_start: bool | None = None) -> Session:
    """Connect (MQTT 5) and wait for the CONNACK, accepted or not. Clean start unless the session is
    to outlive the connection, or `clean_start` says otherwise."""
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{uuid.uuid4().hex[:12]}",
                         protocol=mqtt.MQTTv5)
    session = Session(client)
    if parts.username:
        client.username_pw_set(parts.username, parts.password)
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=str(ca_file))

    def on_connect(_c: mqtt.Client, _u: object, _flags: object, reason: ReasonCode, _p: object) -> None:
        session.connack = reason
        session.connected.set()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with session.acked:
            session.pubacks[mid] = reason
            session.acked.notify_all()

    def on_subscribe(_c: mqtt.Client, _u: object, mid: int, reasons: list[ReasonCode], _p: object) -> None:
        with session.acked:
            session.subacks[mid] = reasons
            session.acked.notify_all()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    client.on_message = lambda _c, _u, message: session.messages.put(message)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = session_expiry_s
    clean = session_expiry_s == 0 if clean_start is None else clean_start
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, clean_start=clean, properties=properties)
    client.loop_start()
    assert session.connected.wait(TIMEOUT_S), f"no CONNACK from {parts.hostname}:{parts.port}"
    return session


@pytest.fixture
def sessions() -> Iterator[Callable[..., Session]]:
    """open_session, closing every session the test opened."""
    opened: list[Session] = []

    def open_(url: str, **kwargs: object) -> Session:
        session = open_session(url, **kwargs)  # type: ignore[arg-type]
        opened.append(session)
        return session

    yield open_
    for session in opened:
        session.close()


# --- the two brokers under test ---------------------------------------------------------------

@dataclass
class Broker:
    """Enough of a broker to log in to it as a device, the writer or the platform."""

    port: int  # devices
    service_port: int  # the writer and the platform
    device_url: Callable[[str], str]
    writer_url: str
    platform_url: str

    def url(self, user: str | None = None, password: str | None = None, port: int | None = None) -> str:
        credentials = f"{user}:{password}@" if user else ""
        return f"mqtt://{credentials}127.0.0.1:{port or self.port}"


class ProductionBroker:
    """deploy/mosquitto run by its entrypoint.sh, paths and ports moved into `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.service_port = free_port()
        self.tls_port = free_port()
        self.passwords = {WRITER_USER: secrets.token_urlsafe(12), PLATFORM_USER: secrets.token_urlsafe(12)}
        self.process: subprocess.Popen[bytes] | None = None
        self._lay_out()

    @property
    def config(self) -> Path:
        return self.root / "config" / "mosquitto.conf"

    @property
    def auth(self) -> Path:
        return self.root / "auth"

    @property
    def ca_file(self) -> Path:
        return self.root / "certs" / "server.crt"

    def _relocate(self, text: str, port_from: int, port_to: int) -> str:
        return (text.replace("/mosquitto/", f"{self.root}/")
                .replace(f"listener {port_from}\n", f"listener {port_to} 127.0.0.1\n"))

    def _lay_out(self) -> None:
        shutil.copytree(DEPLOY_BROKER, self.root / "config", ignore=shutil.ignore_patterns("certs"))
        config = self._relocate(self.config.read_text(), 1883, self.port)
        self.config.write_text(self._relocate(config, 1884, self.service_port))
        tls = (DEPLOY_BROKER / "conf.d" / "tls.conf.example").read_text()
        (self.root / "config" / "conf.d" / "tls.conf").write_text(self._relocate(tls, 8883, self.tls_port))
        for folder in ("data", "auth", "certs"):
            (self.root / folder).mkdir()
        result = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.root / "certs" / "server.key"), "-out", str(self.ca_file)],
            capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        self.root.chmod(0o755)
        chown_tree(self.root, service_user("mosquitto"))

    def environment(self) -> dict[str, str]:
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "TDS_MQTT_CONFIG": str(self.config), "TDS_MQTT_AUTH_DIR": str(self.auth),
                "TDS_MQTT_INGEST_PASSWORD": self.passwords[WRITER_USER],
                "TDS_MQTT_PLATFORM_PASSWORD": self.passwords[PLATFORM_USER]}

    def start(self) -> None:
        log = (self.root / "broker.log").open("ab")
        self.process = subprocess.Popen(["sh", str(DEPLOY_BROKER / "entrypoint.sh")], env=self.environment(),
                                        stdout=log, stderr=subprocess.STDOUT)
        for port in (self.port, self.service_port):
            wait_for_port(port, 10, "production Mosquitto", self.root / "broker.log")

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file on the way out."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def add_device(self, account: str) -> str:
        """The documented way (deploy/mosquitto/conf.d/README): device-account add, then SIGHUP."""
        password = secrets.token_urlsafe(12)
        subprocess.run(["sh", str(DEPLOY_BROKER / "device-account"), "add", account, password],
                       env=self.environment(), check=True)
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        self._wait_for_login(f"mqtt://{account}:{password}@127.0.0.1:{self.port}")
        return password

    @staticmethod
    def _wait_for_login(url: str) -> None:
        """The reload is asynchronous: the account exists once a login with it is accepted."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            session = open_session(url)
            session.close()
            if session.connack_code == 0:
                return
            assert time.monotonic() < deadline, f"the broker did not load the new account within {TIMEOUT_S}s"
            time.sleep(0.05)

    def as_broker(self) -> Broker:
        devices: dict[str, str] = {}

        def device_url(tenant: str) -> str:
            if tenant not in devices:
                devices[tenant] = self.add_device(tenant)
            return f"mqtt://{tenant}:{devices[tenant]}@127.0.0.1:{self.port}"

        service = f"127.0.0.1:{self.service_port}"
        return Broker(port=self.port, service_port=self.service_port, device_url=device_url,
                      writer_url=f"mqtt://{WRITER_USER}:{self.passwords[WRITER_USER]}@{service}",
                      platform_url=f"mqtt://{PLATFORM_USER}:{self.passwords[PLATFORM_USER]}@{service}")


@pytest.fixture
def production_broker_factory() -> Iterator[Callable[[], ProductionBroker]]:
    started: list[ProductionBroker] = []

    def start() -> ProductionBroker:
        root = Path(tempfile.mkdtemp(prefix="tds-test-broker-"))
        broker = ProductionBroker(root)
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()
        shutil.rmtree(broker.root, ignore_errors=True)


@pytest.fixture(scope="module")
def production_broker() -> Iterator[ProductionBroker]:
    broker = ProductionBroker(Path(tempfile.mkdtemp(prefix="tds-test-broker-")))
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(broker.root, ignore_errors=True)


@pytest.fixture(params=["local-stack", "production"])
def broker(request: pytest.FixtureRequest) -> Broker:
    if request.param == "local-stack":
        stack: LocalStack = request.getfixturevalue("stack")
        return Broker(port=stack.layout.mqtt_port, service_port=stack.layout.service_port,
                      device_url=stack.device_mqtt_url, writer_url=stack.writer_mqtt_url(),
                      platform_url=stack.platform_mqtt_url())
    production: ProductionBroker = request.getfixturevalue("production_broker")
    return production.as_broker()


def _tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


# --- who may connect --------------------------------------------------------------------------

def test_anonymous_client_is_refused(broker: Broker, sessions: Callable[..., Session]) -> None:
    for port in (broker.port, broker.service_port):
        assert sessions(broker.url(port=port)).connack_code == NOT_AUTHORIZED


def test_wrong_password_is_refused(broker: Broker, sessions: Callable[..., Session]) -> None:
    session = sessions(broker.url(WRITER_USER, "not-the-password", port=broker.service_port))
    assert session.connack_code in (BAD_CREDENTIALS, NOT_AUTHORIZED)


def test_each_listener_knows_only_its_own_accounts(broker: Broker, sessions: Callable[..., Session]) -> None:
    """A device cannot log in where writers choose their client ids, nor a service where devices connect."""
    device = urlsplit(broker.device_url(_tenant()))
    writer = urlsplit(broker.writer_url)
    assert sessions(broker.url(device.username, device.password, port=broker.service_port)).connack_code in (
        BAD_CREDENTIALS, NOT_AUTHORIZED)
    assert sessions(broker.url(writer.username, writer.password, port=broker.port)).connack_code in (
        BAD_CREDENTIALS, NOT_AUTHORIZED)


def test_service_accounts_log_in(broker: Broker, sessions: Callable[..., Session]) -> None:
    for url in (broker.writer_url, broker.platform_url, broker.device_url(_tenant())):
        session = sessions(url)
        assert session.connack_code == 0


# --- who may publish and read what ------------------------------------------------------------

def test_device_publishes_only_under_its_own_tenant(broker: Broker, sessions: Callable[..., Session]) -> None:
    tenant_a, tenant_b = _tenant(), _tenant()
    writer = sessions(broker.writer_url)
    assert not writer.subscribe("$share/ingest/tds/+/+/+/+")[0].is_failure
    device_a = sessions(broker.device_url(tenant_a))

    forged = device_a.publish(f"tds/{tenant_b}/site/pump-1/telem", b"forged")
    own = device_a.publish(f"tds/{tenant_a}/site/pump-1/telem", b"own")

    assert forged.value == NOT_AUTHORIZED
    assert not own.is_failure
    # The broker delivers one connection's messages in order: once "own" arrived, "forged" never will.
    received = writer.next_message()
    assert (received.topic, received.payload) == (f"tds/{tenant_a}/site/pump-1/telem", b"own")
    assert writer.messages.empty()


def test_device_cannot_publish_commands_or_read_other_tenants(broker: Broker,
                                                               sessions: Callable[..., Session]) -> None:
    tenant_a, tenant_b = _tenant(), _tenant()
    device_a = sessions(broker.device_url(tenant_a))
    device_b = sessions(broker.device_url(tenant_b))
    device_a.subscribe("tds/+/+/+/cmd")
    device_b.subscribe(f"tds/{tenant_b}/+/+/cmd")
    platform = sessions(broker.platform_url)

    assert device_a.publish(f"tds/{tenant_a}/site/pump-1/cmd").value == NOT_AUTHORIZED
    assert not platform.publish(f"tds/{tenant_b}/site/pump-1/cmd", b"start").is_failure

    assert device_b.next_message().payload == b"start"
    assert device_a.messages.empty()


def test_writer_account_cannot_publish(broker: Broker, sessions: Callable[..., Session]) -> None:
    tenant = _tenant()
    observer = sessions(broker.writer_url)
    observer.subscribe("tds/#")
    writer = sessions(broker.writer_url)

    assert writer.publish(f"tds/{tenant}/site/pump-1/telem", b"from-writer").value == NOT_AUTHORIZED
    assert writer.publish(f"tds/{tenant}/site/pump-1/cmd", b"from-writer").value == NOT_AUTHORIZED
    sessions(broker.device_url(tenant)).publish(f"tds/{tenant}/site/pump-1/telem", b"sentinel")
    assert observer.next_message().payload == b"sentinel"
    assert observer.messages.empty()


def test_local_stack_revokes_a_device_account(stack: LocalStack, sessions: Callable[..., Session]) -> None:
    tenant = _tenant()
    url = stack.device_mqtt_url(tenant)
    stack.broker.remove_user(tenant)
    deadline = time.monotonic() + TIMEOUT_S  # the reload is asynchronous
    while sessions(url).connack_code == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sessions(url).connack_code in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    with pytest.raises(StackError, match="service account"):
        stack.broker.remove_user(WRITER_USER)
    assert sessions(stack.writer_mqtt_url()).connack_code == 0


# --- the shipped production config ------------------------------------------------------------

def _rules(acl: str) -> list[str]:
    return [line.strip() for line in acl.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_production_acl_is_the_local_stack_acl() -> None:
    assert _rules((DEPLOY_BROKER / "acl").read_text()) == _rules(SERVICES_ACL)


def test_the_shipped_device_account_tool_writes_the_local_stacks_device_acl(tmp_path: Path) -> None:
    accounts = ["acme", "acme~chiller-7", "globex.eu~pump@3"]
    (tmp_path / "devices").write_text("".join(f"{account}:x\n" for account in accounts) + "bad name:x\n")
    result = subprocess.run(["sh", str(DEPLOY_BROKER / "device-account"), "acl"], capture_output=True, text=True,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TDS_MQTT_AUTH_DIR": str(tmp_path)},
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "skipping bad name" in result.stderr
    assert _rules((tmp_path / "devices.acl").read_text()) == _rules(devices_acl(accounts))
    refused = subprocess.run(["sh", str(DEPLOY_BROKER / "device-account"), "add", "acme~", "pw"],
                             capture_output=True, text=True, env={"TDS_MQTT_AUTH_DIR": str(tmp_path)}, check=False)
    assert refused.returncode == 2 and "not <tenant> or <tenant>~<device>" in refused.stderr


def _setting(config: str, name: str) -> int:
    return int(next(line.split()[1] for line in config.splitlines() if line.startswith(f"{name} ")))


def test_the_broker_size_limits_are_in_step_with_the_writers(stack: LocalStack) -> None:
    for config in ((DEPLOY_BROKER / "mosquitto.conf").read_text(), render_config(stack.layout)):
        assert _setting(config, "message_size_limit") == DEFAULT_MAX_PAYLOAD_BYTES
        assert _setting(config, "max_packet_size") == DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024
        assert [line.split()[0] for line in config.splitlines() if line.startswith(("listener", "per_listener"))] \
            == ["per_listener_settings", "listener", "listener"], "the same shape locally as shipped"


def test_the_broker_refuses_payloads_larger_than_the_writers_accept(broker: Broker,
                                                                    sessions: Callable[..., Session]) -> None:
    """A 64 MB publish passed, and 8 x 48 MB messages took the writer to ~790 MB. Now nothing larger than
    the writers' TDS_MAX_PAYLOAD_BYTES reaches them: message_size_limit drops it (Mosquitto 2.0.11 answers
    PUBACK 0x95, a code paho does not accept for PUBACK, so it disconnects), and max_packet_size cuts a
    connection off before reading a larger packet at all."""
    tenant = _tenant()
    topic = f"tds/{tenant}/site/pump-1/telem"
    writer = sessions(broker.writer_url)
    assert not writer.subscribe(f"tds/{tenant}/#")[0].is_failure
    for n, size in enumerate((DEFAULT_MAX_PAYLOAD_BYTES + 1, 64 * 1024 * 1024)):
        attacker = sessions(broker.device_url(f"{tenant}~attacker{n}"))
        attacker.client.reconnect_delay_set(min_delay=60, max_delay=60)  # one attempt during the test
        gone = threading.Event()
        attacker.client.on_disconnect = lambda *_args, gone=gone: gone.set()
        attacker.client.publish(topic, b"x" * size, qos=1)
        assert gone.wait(30), f"a {size}-byte publish did not end its connection"

    device = sessions(broker.device_url(tenant))
    assert not device.publish(topic, b"x" * DEFAULT_MAX_PAYLOAD_BYTES).is_failure
    assert len(writer.next_message().payload) == DEFAULT_MAX_PAYLOAD_BYTES, "an oversized payload got through"
    time.sleep(0.5)
    assert writer.messages.empty(), "an oversized payload got through"


def test_a_device_cannot_take_a_writers_session_nor_kick_it_off(broker: Broker,
                                                                sessions: Callable[..., Session]) -> None:
    """A device that knew a writer's client id kicked the live writer off, again and again, and took its
    offline session (then left with session expiry 0: the queue was gone). On the device listener a
    client id is the account's name, whatever the device asks for."""
    tenant = _tenant()
    topic = f"tds/{tenant}/site/pump-1/telem"
    writer_id = f"tds-ingest-ingest-w1-{uuid.uuid4().hex[:16]}"
    writer = open_session(broker.writer_url, session_expiry_s=3600, client_id=writer_id)
    assert not writer.subscribe(f"$share/ingest/tds/{tenant}/+/+/+")[0].is_failure
    device = sessions(broker.device_url(tenant))
    attacker_url = broker.device_url(f"{tenant}~attacker")

    kicker = sessions(attacker_url, client_id=writer_id)
    assert kicker.connack_code == 0  # logged in, as itself: the client id it asked for is replaced
    time.sleep(1.0)
    assert writer.client.is_connected(), "the live writer was kicked off"
    kicker.close()
    assert not device.publish(topic, b"while-online").is_failure
    assert writer.next_message().payload == b"while-online"

    writer.close()  # offline: the broker keeps its session and queues for it
    published = [f"queued-{i}".encode() for i in range(5)]
    for payload in published:
        assert not device.publish(topic, payload).is_failure
    thief = open_session(attacker_url, session_expiry_s=0, client_id=writer_id, clean_start=False)
    assert thief.connack_code == 0
    time.sleep(1.0)
    assert thief.messages.empty(), "a device received a writer's queue"
    thief.close()

    back = open_session(broker.writer_url, session_expiry_s=3600, client_id=writer_id)
    try:
        assert back.client.is_connected()
        assert [back.next_message().payload for _ in published] == published, "the writer lost its queue"
    finally:
        back.close()
        open_session(broker.writer_url, client_id=writer_id).close()  # clean start: the session is gone


def test_compose_healthcheck_logs_in_to_the_shipped_broker(production_broker: ProductionBroker) -> None:
    """The exact command docker-compose.yml runs (as the writer, reading the broker's uptime)."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    _kind, command = compose["services"]["broker"]["healthcheck"]["test"]
    command = command.replace("$$", "$").replace("-p 1884", f"-p {production_broker.service_port}")
    result = subprocess.run(["sh", "-c", command], env=production_broker.environment(),
                            capture_output=True, text=True, timeout=15, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("seconds")

    wrong = production_broker.environment() | {"TDS_MQTT_INGEST_PASSWORD": "wrong"}
    refused = subprocess.run(["sh", "-c", command], env=wrong, capture_output=True, text=True, timeout=15,
                             check=False)
    assert refused.returncode != 0


def test_tls_listener_needs_credentials_too(production_broker: ProductionBroker,
                                            sessions: Callable[..., Session]) -> None:
    """conf.d/tls.conf.example, enabled: TLS with the same accounts and ACL as the plain device listener."""
    base = f"mqtts://127.0.0.1:{production_broker.tls_port}"
    tenant = _tenant()
    password = urlsplit(production_broker.as_broker().device_url(tenant)).password
    device = sessions(base.replace("//", f"//{tenant}:{password}@"), ca_file=production_broker.ca_file)
    assert device.connack_code == 0
    assert device.publish(f"tds/{_tenant()}/site/pump-1/telem").value == NOT_AUTHORIZED, "the device ACL applies"
    writer_password = production_broker.passwords[WRITER_USER]
    writer = sessions(base.replace("//", f"//{WRITER_USER}:{writer_password}@"), ca_file=production_broker.ca_file)
    assert writer.connack_code in (BAD_CREDENTIALS, NOT_AUTHORIZED), "services stay on their own listener"
    anonymous = sessions(base, ca_file=production_broker.ca_file)
    assert anonymous.connack_code == NOT_AUTHORIZED


def test_entrypoint_refuses_to_start_without_passwords(tmp_path: Path) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TDS_MQTT_AUTH_DIR": str(tmp_path)}
    result = subprocess.run(["sh", str(DEPLOY_BROKER / "entrypoint.sh")], env=env, capture_output=True, text=True,
                            timeout=10, check=False)
    assert result.returncode != 0
    assert "set it in .env" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_entrypoint_carries_the_devices_of_an_old_single_password_file_over(
        sessions: Callable[..., Session]) -> None:
    root = Path(tempfile.mkdtemp(prefix="tds-test-broker-"))
    broker = ProductionBroker(root)
    tenant = _tenant()
    old = broker.auth / "passwd"
    old.write_text(f"{tenant}:old-password\n{WRITER_USER}:stale\n")
    subprocess.run(["mosquitto_passwd", "-U", str(old)], check=True)
    broker.start()
    try:
        assert sessions(f"mqtt://{tenant}:old-password@127.0.0.1:{broker.port}").connack_code == 0
        assert sessions(broker.as_broker().writer_url).connack_code == 0, "service accounts come from .env"
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


def _queue_for_an_offline_writer(urls: Broker, sessions: Callable[..., Session], count: int) -> str:
    """A writer's group session, offline, with `count` messages the broker acknowledged queued for it;
    its client id."""
    tenant = _tenant()
    writer_id = f"tds-ingest-test-{uuid.uuid4().hex[:8]}"
    writer = open_session(urls.writer_url, session_expiry_s=3600, client_id=writer_id)
    writer.subscribe("$share/ingest/tds/+/+/+/+")
    writer.close()
    device = sessions(urls.device_url(tenant))
    infos = [device.client.publish(f"tds/{tenant}/site/pump-1/telem", str(i).encode(), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(TIMEOUT_S)
    return writer_id


def _received_by(urls: Broker, sessions: Callable[..., Session], writer_id: str, count: int) -> set[bytes]:
    writer = sessions(urls.writer_url, session_expiry_s=3600, client_id=writer_id)
    return {writer.next_message().payload for _ in range(count)}


def test_queued_backlog_survives_a_broker_restart(production_broker_factory: Callable[[], ProductionBroker],
                                                  sessions: Callable[..., Session]) -> None:
    """More than Mosquitto's default 1,000-message queue, kept across a restart (persistence)."""
    backlog = 1500
    broker = production_broker_factory()
    urls = broker.as_broker()
    writer_id = _queue_for_an_offline_writer(urls, sessions, backlog)
    broker.stop()
    broker.start()
    assert _received_by(urls, sessions, writer_id, backlog) == {str(i).encode() for i in range(backlog)}


def test_queued_messages_survive_a_broker_crash_two_seconds_after_their_acknowledgement(
        production_broker_factory: Callable[[], ProductionBroker], sessions: Callable[..., Session]) -> None:
    """SIGKILL saves nothing on the way out: what survives is the last autosave, at most 2 s old with the
    shipped `autosave_interval 1` (Mosquitto's first save comes that long plus 1 s after its start, so
    with the old 10 s every message here was lost)."""
    broker = production_broker_factory()
    urls = broker.as_broker()
    writer_id = _queue_for_an_offline_writer(urls, sessions, 200)
    time.sleep(3)
    assert broker.process is not None
    broker.process.kill()
    broker.process.wait(timeout=20)
    broker.process = None
    broker.start()
    assert _received_by(urls, sessions, writer_id, 200) == {str(i).encode() for i in range(200)}
