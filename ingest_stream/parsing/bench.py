"""Parser throughput on one core: `python -m ingest_stream.parsing.bench [--seconds S] [--models-only]`.

A measurement, not a test: it prints messages/s and points/s and never asserts or exits non-zero.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import orjson

from ingest_stream.parsing.parser import MessageParser
from ingest_stream.parsing.topics import DEFAULT_TOPIC_TEMPLATE, parse_templates

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def v1_payload(points: int, offset_s: int) -> bytes:
    """A realistic v1 message with `points` float readings, its timestamp `offset_s` after START."""
    ts = (START + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {
            "schema": "v1",
            "ts": ts,
            "points": [
                {"name": f"metric_{i}", "t": "float", "v": 7.3 + i + offset_s / 1000, "u": "°C", "q": "good"}
                for i in range(points)
            ],
            "meta": {},
        }
    )


def measure(parser: MessageParser, points: int, seconds: float) -> tuple[float, float]:
    """(messages/s, points/s) parsing distinct pre-built messages for about `seconds`."""
    payloads = [v1_payload(points, offset) for offset in range(1000)]
    topic = "tds/acme/plant-1/chiller-01/telem"
    received_at = START + timedelta(hours=1)
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for payload in payloads:
            parsed = parser.parse(topic, payload, received_at)
        count += len(payloads)
    assert parsed.dead_letter is None, parsed.dead_letter
    rate = count / (time.perf_counter() - started)
    return rate, rate * points


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--seconds", type=float, default=3.0, help="time per case")
    arguments.add_argument(
        "--models-only", action="store_true", help="validate every message with the pydantic models (no fast path)"
    )
    options = arguments.parse_args()
    parser = MessageParser(parse_templates(DEFAULT_TOPIC_TEMPLATE), fast_path=not options.models_only)
    for points in (1, 10, 100):
        messages_per_s, points_per_s = measure(parser, points, options.seconds)
        print(f"{points:>3}-point v1 messages: {messages_per_s:>9,.0f} messages/s {points_per_s:>10,.0f} points/s")


if __name__ == "__main__":
    main()
