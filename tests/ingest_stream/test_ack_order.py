"""PUBACKs leave in the order their messages arrived (MQTT 5, MQTT-4.6.0-2), with two write connections
committing batches at once. Observed on the broker's side: a Mosquitto of its own logging every packet.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from tds_platform.stack.layout import free_port
from tds_platform.stack.processes import chown_tree, service_user, wait_for_port
from tests.ingest_stream.conftest import IngestRig, Publisher

pytestmark = pytest.mark.slow

SENT = re.compile(r"Sending PUBLISH to (\S+) \(d\d, q1, r\d, m(\d+),")
ACKED = re.compile(r"Received PUBACK from (\S+) \(Mid: (\d+)")


@pytest.fixture
def broker() -> Iterator[tuple[str, Path]]:
    """A Mosquitto of this test's own logging every packet: its URL and its log."""
    root = Path(tempfile.mkdtemp(prefix="tds-test-ackorder-"))
    root.chmod(0o755)
    port = free_port()
    log = root / "broker.log"
    (root / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"
        f"log_dest file {log}\nlog_type all\nlog_timestamp false\n")
    chown_tree(root, service_user("mosquitto"))
    process = subprocess.Popen(["mosquitto", "-c", str(root / "mosquitto.conf")])
    try:
        wait_for_port(port, 10, "the logging Mosquitto", log)
        yield f"mqtt://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


def out_of_order(lines: list[str], client_id: str) -> int:
    """PUBACKs from `client_id` that overtook an earlier PUBLISH to it still unacknowledged (before in-order
    acks: 2,961 of 4,000 with two write connections and batches of 20)."""
    waiting: deque[str] = deque()
    wrong = 0
    for line in lines:
        if (sent := SENT.search(line)) and sent.group(1) == client_id:
            waiting.append(sent.group(2))
        elif (acked := ACKED.search(line)) and acked.group(1) == client_id:
            if waiting and waiting[0] == acked.group(2):
                waiting.popleft()
            else:
                wrong += 1
                if acked.group(2) in waiting:
                    waiting.remove(acked.group(2))
    return wrong


def test_two_write_connections_acknowledge_in_receive_order(rig: IngestRig, broker: tuple[str, Path]) -> None:
    url, log = broker
    rig.writer("a", group=None, TDS_MQTT_URL=url, TDS_WRITE_CONNECTIONS="2",
               TDS_BATCH_SIZE="20", TDS_BATCH_MAX_AGE_MS="5").start().wait_ready()
    publisher = Publisher(url, f"{rig.tenant}-dev")
    try:
        sent = rig.publish_readings(publisher, 4000)
        acked = publisher.wait_acked(list(sent))
        assert rig.wait_for_rows(len(sent)) == len(sent)
    finally:
        publisher.close()
    rig.assert_exactly_once(sent, acked)
    packets = log.read_text().splitlines()
    [client_id] = {m.group(1) for line in packets if (m := SENT.search(line))}
    acks = [m.group(2) for m in map(ACKED.search, packets) if m and m.group(1) == client_id]
    assert len(acks) == len(sent)
    assert out_of_order(packets, client_id) == 0
