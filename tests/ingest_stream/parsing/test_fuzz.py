"""Parse is total: thousands of seeded random and mutated messages never raise, and whatever lands is landable."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ingest_stream.parsing import DEFAULT_TOPIC_TEMPLATE, MessageParser, ParserLimits, parse_templates
from ingest_stream.parsing.names import is_safe_name
from ingest_stream.records import Kind, Parsed

RECEIVED = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
LIMITS = ParserLimits()
LEGACY = "equipamentos/{equipment}/dados;tenant=l;kind=telem"
PARSER = MessageParser(parse_templates(f"{DEFAULT_TOPIC_TEMPLATE},{LEGACY}"))
TOPICS = [
    "tds/acme/plant-1/chiller-01/telem", "tds/acme/plant-1/chiller-01/event", "tds/acme/plant-1/chiller-01/ack",
    "tds/acme/plant-1/chiller-01/cmd", "equipamentos/bomba-7/dados", "tds/acme/plant-1/chiller-01/x",
    "tds/+/a/b/telem", "tds/#", "other", "", "tds/a b/c/d/telem", "tds/a\x00/c/d/telem", "$SYS/x", "tds/á/c/d/ack",
]
TELEM, EVENT, ACK = (f"tds/acme/plant-1/chiller-01/{kind}" for kind in ("telem", "event", "ack"))
SEEDS: list[tuple[str, Any]] = [
    (TELEM, {"schema": "v1", "ts": "2026-11-22T10:00:00Z", "meta": {"fw": 1},
             "points": [{"name": "temp", "t": "float", "v": 7.3, "u": "°C", "q": "good"},
                        {"name": "on", "t": "bool", "v": True, "ts": 1795341600},
                        {"name": "mode", "v": "auto", "q": 1, "ts": "2026-11-22T09:00:00+01:00"}]}),
    (TELEM, {"ts": 1795341600123, "temp": 21.5, "hum": 40, "running": True, "mode": "auto", "fault": None}),
    (EVENT, {"schema": "v1", "ts": "2026-11-22T10:00:00Z", "type": "alarm", "severity": "warning",
             "data": {"a": [1, {"b": 2}]}}),
    (ACK, {"schema": "v1", "cmd_id": "c-123", "status": "done", "ts": "2026-11-22T10:00:00Z", "detail": "ok"}),
]
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**63, -(2**70), 1e308, float("nan"), float("inf"), "", "v1", "v2", "x" * 300,
    "\x00", "a b", "+", "$x", "°C", "2026-11-22T10:00:00", "2026-11-22T10:00:00Z", "2099-01-01T00:00:00Z",
    "1999-01-01T00:00:00Z", 1795341600, 1795341600000, 0.0, [], [1, "a"], {}, {"name": "x", "v": 1},
    "good", "bad", "float", "int", "string", "\ud800",
]


def mutate_bytes(payload: bytes, rng: random.Random) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        position = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif choice == 1:
            del data[position:position + rng.randint(1, 8)]
        elif choice == 2:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif choice == 3:
            data[position:position] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\u0000", b"\\ud800"])
        else:
            del data[position:]
    return bytes(data)


def mutate_document(document: Any, rng: random.Random) -> Any:
    """Replace, delete or add one node somewhere in the document."""
    if not isinstance(document, dict | list) or not document or rng.random() < 0.2:
        return rng.choice(ODD_VALUES)
    if isinstance(document, dict):
        key = rng.choice(list(document))
        copy = dict(document)
        roll = rng.random()
        if roll < 0.15:
            del copy[key]
        elif roll < 0.3:
            new_key = rng.choice(["schema", "ts", "points", "name", "v", "t", "q", "u", "x y", "\x00"])
            copy[new_key] = rng.choice(ODD_VALUES)
        else:
            copy[key] = mutate_document(document[key], rng)
        return copy
    index = rng.randrange(len(document))
    copy = list(document)
    if rng.random() < 0.2:
        copy.append(copy[index])  # a duplicated point
    else:
        copy[index] = mutate_document(document[index], rng)
    return copy


def encode(document: Any, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        try:
            return orjson.dumps(document)
        except (TypeError, orjson.JSONEncodeError):
            pass
    # The stdlib writes NaN/Infinity tokens and lone surrogates as escapes: inputs orjson must refuse.
    return json.dumps(document, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def cases(count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    generated = []
    for _ in range(count):
        seed_topic, seed_document = rng.choice(SEEDS)
        topic = seed_topic if rng.random() < 0.75 else rng.choice(TOPICS)
        roll = rng.random()
        if roll < 0.45:
            payload = encode(mutate_document(seed_document, rng), rng)
        elif roll < 0.85:
            payload = mutate_bytes(orjson.dumps(seed_document), rng)
        else:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        generated.append((topic, payload))
    return generated


def assert_landable(parsed: Parsed) -> None:
    latest = RECEIVED + timedelta(seconds=LIMITS.max_future_skew_s)
    for reading in parsed.readings:
        assert reading.ts.utcoffset() == timedelta(0)
        assert LIMITS.earliest_ts <= reading.ts <= latest
        assert is_safe_name(reading.metric)
        assert reading.value is None or (type(reading.value) is float and math.isfinite(reading.value))
        assert reading.value_text is None or "\x00" not in reading.value_text
        assert reading.value is None or reading.value_text is None
        assert reading.unit is None or "\x00" not in reading.unit
    for event in parsed.events:
        assert LIMITS.earliest_ts <= event.ts <= latest
        assert "\x00" not in orjson.dumps(event.data).decode()
    for ack in parsed.acks:
        assert ack.ts.utcoffset() == timedelta(0)
        assert ack.status in {"accepted", "done", "partial", "error"}


def test_parse_never_raises_and_always_decides() -> None:
    outcomes: Counter[str] = Counter()
    for topic, payload in cases(4000, seed=20261122):
        parsed = PARSER.parse(topic, payload, RECEIVED)
        letter = parsed.dead_letter
        if letter is not None:
            assert (parsed.readings, parsed.events, parsed.acks) == ((), (), ()), topic
            assert letter.payload == payload
            assert not letter.detail.startswith("parser bug"), (topic, payload, letter.detail)
            letter.detail.encode("utf-8")
            letter.topic.encode("utf-8")
            assert "\x00" not in letter.topic + letter.detail
            outcomes[letter.reason.value] += 1
        elif parsed == Parsed():
            assert topic.endswith("/cmd"), (topic, payload)
            outcomes["ignored"] += 1
        else:
            assert_landable(parsed)
            outcomes["landed"] += 1
    # The generator must actually reach deep into validation, not only fail at the JSON decoder.
    for outcome in ("landed", "ignored", "schema_violation", "bad_timestamp", "invalid_json", "invalid_utf8",
                    "unsupported_schema", "hostile_topic", "unknown_kind", "unknown_topic", "empty_payload"):
        assert outcomes[outcome] > 0, outcomes


def test_cmd_topics_are_ignored_whatever_the_payload() -> None:
    for _, payload in cases(200, seed=7):
        assert PARSER.parse("tds/acme/plant-1/chiller-01/cmd", payload, RECEIVED) == Parsed()


def test_kinds_in_fuzz_topics_cover_every_kind() -> None:
    kinds = {topic.rsplit("/", 1)[-1] for topic in TOPICS}
    assert {kind.value for kind in Kind} <= kinds
