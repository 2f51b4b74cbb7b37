"""The one paho setup (ingest_stream.broker) against a real Mosquitto TLS listener, its certificate from a private CA.

The CA is made here with openssl, so nothing on the machine trusts it: whatever connects must use
TDS_MQTT_CA_FILE. Gap backfill's commands and the simulator once ignored it and could not reach such a
broker; the writer, its backfill commands and the simulator now all log in through it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest_stream.broker import BrokerAddress
from tds_platform.backfill.command import CommandError, publish_command
from tds_platform.simulate.commands import Outgoing
from tds_platform.simulate.mqtt import FleetLink, MqttError, broker_address
from tds_platform.stack.layout import free_port
from tds_platform.stack.processes import chown_tree, service_user, wait_for_port
from tests.ingest_stream.conftest import BASE_TS, TDS_INGEST, IngestRig, v1
from tests.servers import stack_root


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@dataclass
class TlsBroker:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.root / "ca.crt")


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[TlsBroker]:
    """Mosquitto with one TLS listener; its certificate is signed by a CA made for this test alone."""
    root = stack_root("tds-tls-")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=tds test CA", "-keyout", str(root / "ca.key"),
             "-out", str(root / "ca.crt"))
    _openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", str(root / "server.key"),
             "-out", str(root / "server.csr"))
    (root / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(root / "server.csr"), "-CA", str(root / "ca.crt"),
             "-CAkey", str(root / "ca.key"), "-CAcreateserial", "-days", "1", "-extfile", str(root / "server.ext"),
             "-out", str(root / "server.crt"))
    port = free_port()
    (root / "mosquitto.conf").write_text(
        "persistence false\n"
        f"log_dest file {root / 'mosquitto.log'}\n"
        "allow_anonymous true\n"
        f"listener {port} 127.0.0.1\n"
        f"certfile {root / 'server.crt'}\n"
        f"keyfile {root / 'server.key'}\n"
        "tls_version tlsv1.2\n")
    chown_tree(root, service_user("mosquitto"))
    process = subprocess.Popen(["mosquitto", "-c", str(root / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 10, "the TLS Mosquitto", root / "mosquitto.log")
        yield TlsBroker(root, port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def test_a_backfill_command_reaches_a_broker_with_a_private_ca_through_tds_mqtt_ca_file(
        tls_broker: TlsBroker, rig: IngestRig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer and the command both connect over TLS; the command's reading lands through the writer."""
    monkeypatch.delenv("TDS_MQTT_CA_FILE", raising=False)
    with pytest.raises(CommandError, match="certificate verify failed"):
        publish_command(tls_broker.url, rig.topic("ch-1"), b"{}", timeout_s=5)

    writer = rig.writer("tls", group=None, TDS_MQTT_URL=tls_broker.url, TDS_MQTT_CA_FILE=tls_broker.ca_file)
    writer.start().wait_ready()
    monkeypatch.setenv("TDS_MQTT_CA_FILE", tls_broker.ca_file)
    publish_command(tls_broker.url, rig.topic("ch-1"), v1({"temp": 21.5}, BASE_TS), timeout_s=5)
    assert rig.wait_for_rows(1, timeout_s=20) == 1
    assert rig.landed_timestamps() == [BASE_TS]


def test_the_simulator_reaches_a_broker_with_a_private_ca_through_tds_mqtt_ca_file(
        tls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TDS_MQTT_CA_FILE", tls_broker.ca_file)
    link = FleetLink({"acme": broker_address(tls_broker.url)}, timeout_s=5)
    link.open()
    try:
        link.publish(Outgoing("acme", "tds/acme/plant-1/ch-1/telem", v1({"temp": 1.0}, BASE_TS)))
        link.flush()
    finally:
        link.close()
    assert link.dropped == 0


def test_a_ca_file_that_is_not_certificates_is_one_sentence_for_every_component(
        tls_broker: TlsBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_ca = tmp_path / "ca.crt"
    not_a_ca.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=f"cannot use {not_a_ca} as the broker's CA file"):
        BrokerAddress.from_url(tls_broker.url, str(not_a_ca))
    monkeypatch.setenv("TDS_MQTT_CA_FILE", str(tmp_path / "missing.crt"))
    with pytest.raises(CommandError, match="No such file or directory"):
        publish_command(tls_broker.url, "tds/acme/plant-1/ch-1/cmd", b"{}", timeout_s=5)
    with pytest.raises(MqttError, match="broker's CA file"):
        broker_address(tls_broker.url)
    result = subprocess.run([TDS_INGEST, "run", "--mqtt-url", tls_broker.url, "--instance-id", "tls-check"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "broker's CA file (TDS_MQTT_CA_FILE): No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
