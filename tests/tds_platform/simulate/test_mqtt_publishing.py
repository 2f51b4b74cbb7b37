"""Against the session's real Mosquitto: device logins, exact bytes on the wire, and the resend protocol."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import orjson
import paho.mqtt.client as mqtt
import pytest

from tds_platform.simulate.fleet import tenant_name
from tds_platform.simulate.mqtt import BrokerAddress, FleetLink, MqttError, broker_address
from tds_platform.simulate.payloads import iso
from tds_platform.simulate.runner import MemoryTransport, run
from tds_platform.simulate.settings import SimulatorSettings
from tds_platform.stack import LocalStack


class Subscriber:
    """A raw paho client, as the stream writer would be, recording everything in arrival order."""

    def __init__(self, url: str, topic: str = "tds/#") -> None:
        address = broker_address(url)
        self.messages: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(address.username, address.password)
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscriber never got its SUBACK"

    def wait_for(self, predicate, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self.messages):
            assert time.monotonic() < deadline, f"timed out with {len(self.messages)} messages"
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(stack: LocalStack) -> Iterator[Subscriber]:
    sub = Subscriber(stack.writer_mqtt_url())
    yield sub
    sub.close()


def device_link(stack: LocalStack, settings: SimulatorSettings) -> FleetLink:
    tenants = [tenant_name(n) for n in range(1, settings.tenants + 1)]
    link = FleetLink({t: broker_address(stack.device_mqtt_url(t)) for t in tenants})
    link.open()
    return link


def telemetry_of(messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(topic, payload) for topic, payload in messages if topic.endswith("/telem")]


def test_history_reaches_the_broker_byte_for_byte_with_faults(stack: LocalStack, subscriber: Subscriber) -> None:
    settings = SimulatorSettings(tenants=2, sites=1, equipment=2, seed=11, history="30m", duration=0, faults="demo",
                                 duplicate_rate=0.05, malformed_rate=0.05, late_rate=0.05)
    now = int(time.time())
    expected = MemoryTransport()
    run(settings, expected, now)
    link = device_link(stack, settings)
    try:
        stats = run(settings, link, now)
    finally:
        link.close()
    subscriber.wait_for(lambda got: len(telemetry_of(got)) >= len(expected.sent))
    got = telemetry_of(subscriber.messages)
    assert Counter(got) == Counter((m.topic, m.payload) for m in expected.sent)
    for topic in {t for t, _ in got}:  # one connection per tenant keeps each device's order
        assert [p for t, p in got if t == topic] == [m.payload for m in expected.sent if m.topic == topic]
    assert stats["duplicates"] > 0
    assert stats["late_messages"] > 0
    assert sum(v for k, v in stats.items() if k.startswith("malformed_")) > 0
    assert {t.split("/")[1] for t, _ in got} == {"acme", "globex"}  # each tenant published under its own login


def test_resend_over_mqtt_returns_what_a_gap_kept_back(stack: LocalStack, subscriber: Subscriber) -> None:
    settings = SimulatorSettings(tenants=1, sites=1, equipment=2, seed=5, history="2h", gap_rate=1.0, gap_min="10m",
                                 gap_max="10m")
    now = int(time.time())
    history = MemoryTransport()
    run(settings.model_copy(update={"duration": 0}), history, now)
    link, stop = device_link(stack, settings), threading.Event()
    live = threading.Thread(target=run, args=(settings, link, now), kwargs={"stop": stop}, daemon=True)
    live.start()
    platform = Subscriber(stack.platform_mqtt_url(), topic="tds/+/+/+/ack")
    try:
        subscriber.wait_for(lambda got: len(telemetry_of(got)) >= len(history.sent))
        chiller = "tds/acme/site-1/s1-chiller-01"
        published = {orjson.loads(p)["ts"] for t, p in telemetry_of(subscriber.messages) if t == f"{chiller}/telem"}
        start, end = now - 7200, now - 60
        command = {"schema": "v1", "cmd_id": "bf-1", "cmd": "resend", "args": {"from": iso(start), "to": iso(end)},
                   "ts": iso(now)}
        platform.client.publish(f"{chiller}/cmd", orjson.dumps(command), qos=1).wait_for_publish(5)
        platform.client.publish(f"{chiller}/cmd", orjson.dumps(command | {"cmd_id": "bf-2", "cmd": "reboot"}),
                                qos=1).wait_for_publish(5)
        subscriber.wait_for(lambda got: sum(b'"bf-' in p and b'"status"' in p for _, p in got) >= 3)
    finally:
        stop.set()
        live.join(10)
        link.close()
        platform.close()
    answers = [(i, t, orjson.loads(p)) for i, (t, p) in enumerate(subscriber.messages) if b'"bf-1"' in p]
    acks = [(i, body) for i, t, body in answers if t == f"{chiller}/ack"]
    resent = [(i, body) for i, t, body in answers if t == f"{chiller}/telem"]
    assert [body["status"] for _, body in acks] == ["accepted", "done"]
    assert acks[0][0] < min(i for i, _ in resent)
    assert max(i for i, _ in resent) < acks[1][0]
    points = [p for _, body in resent for p in body["points"]]
    assert all(len(body["points"]) <= 100 for _, body in resent)
    assert acks[1][1]["detail"] == f"{len(points)} readings resent"
    stamps = {p["ts"] for p in points}
    assert all(start <= datetime.fromisoformat(s).timestamp() < end for s in stamps)
    assert len(points) == 5 * len(stamps)  # every chiller metric of every tick in the window
    assert len(stamps) == 7140 // 10
    kept_back = stamps - published
    assert kept_back  # the gap's readings, never published live, came back on request
    errors = [orjson.loads(p) for t, p in subscriber.messages if t == f"{chiller}/ack" and b'"bf-2"' in p]
    assert [(e["status"], e["detail"]) for e in errors] == [
        ("error", "unknown command 'reboot'; this device knows: resend")]
    assert not live.is_alive()


def test_wrong_password_is_refused_in_one_sentence(stack: LocalStack) -> None:
    address = broker_address(stack.device_mqtt_url("acme"))
    bad = BrokerAddress(address.host, address.port, "acme", "wrong", tls=False)
    link = FleetLink({"acme": bad}, timeout_s=5)
    with pytest.raises(MqttError, match=r"refused tenant 'acme'.*check the account and its password"):
        link.open()
