"""The fast path lands exactly what the payload models land and rejects nothing itself: differential tests.

Each input is parsed twice, by the default parser and by one with `fast_path=False` (models only); the
results must be equal down to value types and time zones, and the fast path must really take the common cases.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from ingest_stream.parsing import MessageParser, ParserLimits, parse_templates
from ingest_stream.parsing.bench import v1_payload
from ingest_stream.parsing.fast import NAME_CACHE_SIZE, TIMESTAMP_CACHE_SIZE, FastTelemetry
from ingest_stream.records import Kind, Parsed, TopicAddress
from tests.ingest_stream.parsing.test_fuzz import ODD_VALUES, RECEIVED, cases
from tests.ingest_stream.parsing.test_parser import BAD, GOOD_TELEMETRY, LEGACY_TOPIC, TEMPLATES

TELEM = "tds/acme/plant-1/chiller-01/telem"
ADDRESS = TopicAddress(tenant="acme", site="plant-1", equipment="chiller-01", kind=Kind.TELEM)
LATEST = RECEIVED + timedelta(hours=1)
EARLIEST = ParserLimits().earliest(RECEIVED)
LIMITS = ParserLimits()
TABLE = [(case.values[0], case.values[1]) for case in GOOD_TELEMETRY + BAD]
# Pools for messages built field by field, each (valid choices, invalid ones); ABSENT leaves the field out.
ABSENT = object()
NAMES = (["temp", "hum", "a.b:c@d_e-F9", "n" * 128],
         ["n" * 129, "", "temp agua", "a+", "$a", "água", 7, None, [1], {}, ABSENT])
TYPES = (["float", "int", "bool", "string", "text", "str", None, ABSENT], ["double", "FLOAT", 1, ["float"]])
VALUES = ([7.3, -0.5, 0.0, 12, 0, 1, 2**63, 2**64 - 1, -(2**63), 7.0, 1e308, True, False, "auto", "", None],
          [1.5, 2, "a\x00b", "7.3", [1], {"a": 1}, ABSENT])
UNITS = (["°C", "m³/h", "", "u" * 128, None, ABSENT], ["u" * 129, "a\nb", "°C\x00", 7])
QUALITIES = (["good", "bad", "uncertain", "GOOD", "Bad", 0, 1, 2, ABSENT], ["ok", "", 3, -1, True, None, 1.0])
STAMPS = (["2026-11-22T10:00:00Z", "2026-11-22T09:00:00Z", "2026-11-22T07:00:00-03:00", "2026-11-22T11:30:00Z",
           "2000-01-01T00:00:00Z", 1795341600, 1795341600000, 1795341600.5],
          ["2026-11-22T10:00:00", "2026-11-22T11:30:01Z", "1999-12-31T23:59:59Z", "2026-11-22T25:00:00Z", "now", "",
           1e20, 0, -1, True, None, [1], ABSENT])


def pick(rng: random.Random, pool: tuple[list[Any], list[Any]]) -> Any:
    """Mostly a valid choice; sometimes anything, so each field also fails on its own."""
    valid, invalid = pool
    return rng.choice(valid) if rng.random() < 0.85 else rng.choice(valid + invalid)

def parsers(limits: ParserLimits = LIMITS) -> tuple[MessageParser, MessageParser]:
    templates = parse_templates(TEMPLATES)
    return MessageParser(templates, limits), MessageParser(templates, limits, fast_path=False)


FAST, MODELS = parsers()


def assert_same(topic: str, payload: bytes, fast: MessageParser = FAST, models: MessageParser = MODELS) -> Parsed:
    """Equal results, and equal reprs: `==` alone would let 1 == 1.0 == True or another tzinfo slip through."""
    expected = models.parse(topic, payload, RECEIVED)
    got = fast.parse(topic, payload, RECEIVED)
    assert got == expected, (topic, payload)
    assert repr(got) == repr(expected), (topic, payload)
    return got


def present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not ABSENT}


def built_point(rng: random.Random) -> dict[str, Any]:
    return present(name=pick(rng, NAMES), t=pick(rng, TYPES), v=pick(rng, VALUES), u=pick(rng, UNITS),
                   q=pick(rng, QUALITIES), ts=pick(rng, STAMPS) if rng.random() < 0.3 else ABSENT)


def built_message(rng: random.Random) -> bytes:
    """A v1 or flat message whose every field is drawn from the pools above."""
    if rng.random() < 0.3:
        keys = [pick(rng, NAMES) for _ in range(rng.randint(1, 4))]
        flat = {key: pick(rng, VALUES) for key in keys if isinstance(key, str)} | {"ts": pick(rng, STAMPS)}
        return orjson.dumps({key: value for key, value in flat.items() if value is not ABSENT})
    points = [built_point(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.1:
        points.append(dict(points[0]))  # a repeated point
    message = present(schema="v1" if rng.random() < 0.95 else rng.choice(["v2", None, 1]),
                      ts=pick(rng, STAMPS) if rng.random() < 0.9 else ABSENT, points=points,
                      meta=rng.choice([{}, {"fw": 1}, ABSENT, ABSENT, [], None]))
    return orjson.dumps(message)


def test_fuzz_corpus_parses_the_same() -> None:
    for topic, payload in cases(4000, seed=20261122):
        assert_same(topic, payload)


def test_table_inputs_parse_the_same() -> None:
    for topic, payload in TABLE:
        assert_same(topic, payload)


def test_messages_built_field_by_field_parse_the_same_and_mostly_take_the_fast_path() -> None:
    rng = random.Random(11)
    fast = FastTelemetry(LIMITS.max_name_length, LIMITS.max_points, LIMITS.max_days)
    taken = landed = 0
    for _ in range(6000):
        payload = built_message(rng)
        parsed = assert_same(TELEM, payload)
        document = orjson.loads(payload)
        taken += fast.readings(ADDRESS, document, EARLIEST, LATEST) is not None
        landed += parsed.dead_letter is None
    assert landed > 1000, landed  # the corpus must land a good share, or this compares dead letters only
    assert taken == landed  # every message the models land, the fast path lands by itself


@pytest.mark.parametrize(
    "limits",
    [pytest.param(ParserLimits(max_points=2), id="max-points"), pytest.param(ParserLimits(max_name_length=5),
                                                                                id="max-name-length"),
     pytest.param(ParserLimits(earliest_ts=datetime(2026, 11, 22, 10, tzinfo=UTC)), id="earliest"),
     pytest.param(ParserLimits(max_future_skew_s=0), id="no-future-skew"),
     pytest.param(ParserLimits(max_age=timedelta(hours=1)), id="max-age"),
     pytest.param(ParserLimits(max_days=1), id="one-day")],
)
def test_other_limits_parse_the_same(limits: ParserLimits) -> None:
    fast, models = parsers(limits)
    rng = random.Random(5)
    for _ in range(500):
        assert_same(TELEM, built_message(rng), fast, models)
    three_points = [(TELEM, v1_payload(3, 0)), (TELEM, orjson.dumps({"ts": 1795341600, "a": 1, "b": 2, "c": 3}))]
    for topic, payload in [*TABLE, *three_points]:
        assert_same(topic, payload, fast, models)


def test_the_table_good_telemetry_takes_the_fast_path() -> None:
    fast = FastTelemetry(LIMITS.max_name_length, LIMITS.max_points, LIMITS.max_days)
    addresses = {TELEM: ADDRESS, LEGACY_TOPIC: TopicAddress(tenant="legacy", site=None, equipment="bomba-7",
                                                           kind=Kind.TELEM)}
    for case in GOOD_TELEMETRY:
        topic, payload, expected = case.values
        assert fast.readings(addresses[topic], orjson.loads(payload), EARLIEST, LATEST) == expected, case.id


def test_a_remembered_timestamp_is_still_judged_against_each_messages_window() -> None:
    payload = orjson.dumps({"schema": "v1", "ts": "2026-11-22T11:00:00Z", "points": [{"name": "a", "v": 1}]})
    assert FAST.parse(TELEM, payload, RECEIVED).readings
    letter = FAST.parse(TELEM, payload, RECEIVED - timedelta(hours=1)).dead_letter
    assert letter is not None
    assert letter.reason == "bad_timestamp"


def test_caches_stay_bounded_and_correct_when_they_roll_over() -> None:
    parser, models = parsers()
    for offset in range(max(TIMESTAMP_CACHE_SIZE, NAME_CACHE_SIZE) + 100):
        stamp = (RECEIVED - timedelta(seconds=offset)).isoformat()
        payload = orjson.dumps({"schema": "v1", "ts": stamp, "points": [{"name": f"m{offset}", "v": 1.5}]})
        assert_same(f"tds/acme/plant-1/e{offset % 500}/telem", payload, parser, models)
    # White-box, because the bound is the point: a long-running writer must not grow without limit.
    assert 0 < len(parser._fast._moments) <= TIMESTAMP_CACHE_SIZE  # type: ignore[union-attr]
    assert 0 < len(parser._fast._known_names) <= NAME_CACHE_SIZE  # type: ignore[union-attr]


def test_odd_values_as_flat_readings_parse_the_same() -> None:
    for value in ODD_VALUES:
        for stamp in STAMPS[0]:
            document = {"ts": stamp, "temp": value}
            try:
                payload = orjson.dumps(document)
            except orjson.JSONEncodeError:
                continue
            assert_same(TELEM, payload)


@pytest.mark.parametrize(
    "document",
    [pytest.param({"schema_version": "v1", "points": [{"name": "a", "v": 1}], "ts": 1795341600}, id="field-name"),
     pytest.param({"schema": "v2", "schema_version": "v1", "points": [{"name": "a", "v": 1}], "ts": 1795341600},
                  id="alias-wins-refused"),
     pytest.param({"schema": "v1", "schema_version": "v2", "points": [{"name": "a", "v": 1}], "ts": 1795341600},
                  id="alias-wins-landed")],
)
def test_the_schema_field_by_its_python_name_parses_the_same(document: dict[str, Any]) -> None:
    assert_same(TELEM, orjson.dumps(document))


@pytest.mark.parametrize(
    "document",
    [pytest.param({"ts": 1795341600, "a": float("inf")}, id="infinite"),
     pytest.param({"ts": 1795341600, "a": float("nan")}, id="nan"),
     pytest.param({"schema": "v1", "ts": 1795341600, "points": [{"name": "a", "t": "int", "v": 10**400}]},
                  id="int-too-large-for-a-double")],
)
def test_numbers_json_cannot_carry_are_left_to_the_models(document: dict[str, Any]) -> None:
    """orjson never decodes these, but the fast path must not be what lets them through (or raises)."""
    fast = FastTelemetry(LIMITS.max_name_length, LIMITS.max_points, LIMITS.max_days)
    assert fast.readings(ADDRESS, document, EARLIEST, LATEST) is None


def test_bench_messages_take_the_fast_path() -> None:
    fast = FastTelemetry(LIMITS.max_name_length, LIMITS.max_points, LIMITS.max_days)
    for points in (1, 10, 100):
        payload = v1_payload(points, 0)
        assert fast.readings(ADDRESS, orjson.loads(payload), EARLIEST, LATEST) is not None
        assert_same(TELEM, payload)
