"""DLQ replay against a real database: what now parses lands and is marked, the rest stays, bytes never change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest_stream.settings import ParsingSettings
from tds_platform.db.engine import engine_for
from tds_platform.replay.replay import ReplaySelection, replay
from tests.servers import admin_url

RECEIVED = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)
LEGACY_TOPIC = "equipamentos/ch-9/dados"
FIXED_TOPICS = "tds/{tenant}/{site}/{equipment}/{kind},equipamentos/{equipment}/dados;tenant=legacy;kind=telem"
LEGACY_PAYLOAD = json.dumps({"ts": "2026-11-22T10:00:00Z", "temp": 21.5, "hum": 40}).encode()
BROKEN_JSON = b'{"schema":"v1","ts":'
NOT_UTF8 = b"\xff\xfe{}"


def dead_letter(url: str, topic: str, payload: bytes, reason: str, received_at: datetime = RECEIVED) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "INSERT INTO tds.dlq (received_at, topic, payload, reason, detail, instance) "
            "VALUES (%s, %s, %s, %s, 'original detail', 'w1') RETURNING id",
            (received_at, topic, payload, reason)).fetchone()[0]


def dlq_rows(url: str) -> dict[int, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, received_at, topic, payload, reason, detail, instance, replayed_at, "
                            "replay_result FROM tds.dlq ORDER BY id").fetchall()
    return {row[0]: (row[1], row[2], bytes(row[3]), *row[4:]) for row in rows}


def readings(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT tenant, equipment, metric, ts, value FROM tds.telemetry "
                            "ORDER BY tenant, equipment, metric, ts").fetchall()


def run(url: str, topics: str = FIXED_TOPICS, dry_run: bool = False, **selection: object):
    parser = ParsingSettings(mqtt_topics=topics).parser()
    return replay(engine_for(url), url, parser, ReplaySelection(**selection), dry_run=dry_run)


@pytest.fixture
def letters(any_database: str) -> tuple[str, dict[str, int]]:
    url = any_database
    ids = {
        "legacy": dead_letter(url, LEGACY_TOPIC, LEGACY_PAYLOAD, "unknown_topic"),
        "broken": dead_letter(url, "tds/acme/p1/ch-1/telem", BROKEN_JSON, "invalid_json"),
        "not_utf8": dead_letter(url, "tds/acme/p1/ch-1/telem", NOT_UTF8, "invalid_utf8"),
    }
    return url, ids


def test_rows_that_now_parse_land_and_are_marked_while_invalid_ones_stay(letters: tuple[str, dict[str, int]]) -> None:
    url, ids = letters
    before = dlq_rows(url)

    report = run(url)

    assert readings(url) == [("legacy", "ch-9", "hum", datetime(2026, 11, 22, 10, tzinfo=UTC), 40.0),
                             ("legacy", "ch-9", "temp", datetime(2026, 11, 22, 10, tzinfo=UTC), 21.5)]
    after = dlq_rows(url)
    assert after[ids["legacy"]][-1] == "landed"
    assert after[ids["broken"]][-1].startswith("still_invalid: invalid_json: payload is not JSON")
    assert after[ids["not_utf8"]][-1].startswith("still_invalid: invalid_utf8: ")
    assert all(row[-2] is not None for row in after.values()), "every examined row carries its replay time"
    for row_id, row in before.items():  # received_at, topic, payload, reason, detail, instance: untouched
        assert after[row_id][:6] == row[:6]
    meta = report.metadata()
    assert (meta["examined"], meta["landed"], meta["still_invalid"], meta["unchanged"]) == (3, 1, 2, 0)
    assert meta["readings_inserted"] == 2
    assert meta["still_invalid_reasons"] == "invalid_json=1, invalid_utf8=1"


def test_a_row_the_database_refuses_stays_a_dead_letter_and_the_rest_land(any_database: str) -> None:
    """The database's word beats the parser's: a reading it refuses (here an operator's CHECK constraint) keeps
    its row still invalid, with the store's reason, while every other row of the batch lands."""
    url = any_database
    with psycopg.connect(admin_url(url), autocommit=True) as admin:
        admin.execute("ALTER TABLE tds.telemetry_raw ADD CONSTRAINT no_666 CHECK (value IS DISTINCT FROM 666)")
    values = [20.0, 21.0, 666.0, 23.0, 24.0, 25.0, 666.0, 27.0]
    ids = [dead_letter(url, LEGACY_TOPIC, json.dumps({"ts": f"2026-11-22T10:0{i}:00Z", "temp": value}).encode(),
                       "unknown_topic") for i, value in enumerate(values)]

    report = run(url)

    results = {row_id: row[-1] for row_id, row in dlq_rows(url).items()}
    refused = {ids[2], ids[6]}
    assert all(results[row_id] == "landed" for row_id in set(ids) - refused)
    for row_id in refused:
        assert results[row_id].startswith("still_invalid: database_rejected: ")
        assert "no_666" in results[row_id]
    assert [value for *_, value in readings(url)] == [v for v in values if v != 666.0]
    meta = report.metadata()
    assert (meta["landed"], meta["still_invalid"], meta["readings_inserted"]) == (6, 2, 6)


def test_a_second_replay_changes_nothing(letters: tuple[str, dict[str, int]]) -> None:
    url, _ = letters
    run(url)
    rows, landed = dlq_rows(url), readings(url)

    report = run(url)

    assert dlq_rows(url) == rows
    assert readings(url) == landed
    meta = report.metadata()
    assert (meta["examined"], meta["landed"], meta["still_invalid"], meta["unchanged"]) == (2, 0, 0, 2)
    assert meta["rows_marked"] == 0


def test_a_row_still_invalid_lands_after_a_later_template_fix(letters: tuple[str, dict[str, int]]) -> None:
    url, ids = letters
    run(url, topics="tds/{tenant}/{site}/{equipment}/{kind}")
    assert dlq_rows(url)[ids["legacy"]][-1].startswith("still_invalid: unknown_topic: ")
    assert readings(url) == []

    run(url)

    assert dlq_rows(url)[ids["legacy"]][-1] == "landed"
    assert len(readings(url)) == 2


def test_dry_run_counts_without_landing_or_marking(letters: tuple[str, dict[str, int]]) -> None:
    url, _ = letters
    rows = dlq_rows(url)

    meta = run(url, dry_run=True).metadata()

    assert dlq_rows(url) == rows
    assert readings(url) == []
    assert (meta["dry_run"], meta["landed"], meta["still_invalid"], meta["readings_inserted"]) == (True, 1, 2, 2)


def test_reason_since_and_limit_select_rows(letters: tuple[str, dict[str, int]]) -> None:
    url, ids = letters
    late = dead_letter(url, LEGACY_TOPIC, LEGACY_PAYLOAD, "unknown_topic", RECEIVED + timedelta(hours=1))

    assert run(url, reason="invalid_json").examined == 1
    assert run(url, reason="unknown_topic", since=RECEIVED + timedelta(minutes=30)).examined == 1
    assert dlq_rows(url)[late][-1] == "landed" and dlq_rows(url)[ids["legacy"]][-1] is None
    assert run(url, limit=1).examined == 1
    assert dlq_rows(url)[ids["legacy"]][-1] == "landed"


def test_unknown_reason_is_refused_in_one_sentence() -> None:
    with pytest.raises(ValueError, match="unknown dead-letter reason 'nope'"):
        ReplaySelection(reason="nope")
