"""Retention against real databases: exactly the rows older than the policy go, nothing newer."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tds_platform.db.edition import detect_edition_url
from tds_platform.db.engine import engine_for
from tds_platform.retention.apply import apply_retention
from tds_platform.retention.policy import TARGETS_BY_ASSET, RetentionSettings

NOW = datetime.now(UTC).replace(microsecond=0)
D = timedelta(days=1)
S = timedelta(seconds=1)

# age -> kept? (a negative age is a future-dated row from a device with a skewed clock)
RAW_AGES = {40 * D: False, 35 * D: False, 31 * D: False, 30 * D + S: False, 30 * D - S: True, D: True,
            -400 * D: True}
MINUTE_AGES = {91 * D: False, 89 * D: True, -D: True}
HOUR_AGES = {800 * D: False, 700 * D: True}
DAY_AGES = {3000 * D: True, D: True}
DLQ_AGES = {15 * D: False, 14 * D + S: False, 13 * D: True, -D: True}


def seed(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment) VALUES ('acme', 'pump-1')")
        series = conn.execute("INSERT INTO tds.metric_spec (tenant, equipment, metric) "
                              "VALUES ('acme', 'pump-1', 'flow') RETURNING series_id").fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO tds.telemetry_raw (series_id, ts, value) VALUES (%s, %s, 1)",
                            [(series, NOW - age) for age in RAW_AGES])
            for table, ages in (("telemetry_1m_data", MINUTE_AGES), ("telemetry_1h_data", HOUR_AGES),
                                ("telemetry_1d_data", DAY_AGES)):
                cur.executemany(f"INSERT INTO tds.{table} (series_id, bucket, n) VALUES (%s, %s, 1)",  # fixed names
                                [(series, NOW - age) for age in ages])
            cur.executemany("INSERT INTO tds.dlq (received_at, topic, payload, reason) VALUES (%s, 't', 'x', 'r')",
                            [(NOW - age,) for age in DLQ_AGES])


def remaining(url: str, table: str, column: str) -> set[datetime]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(f"SELECT {column} FROM tds.{table}")}  # fixed names only


def kept(ages: dict[timedelta, bool]) -> set[datetime]:
    return {NOW - age for age, keep in ages.items() if keep}


def test_exactly_the_expired_rows_go_and_future_dated_rows_stay(any_database: str) -> None:
    seed(any_database)
    settings = RetentionSettings(delete_batch_rows=2)  # several batches for raw
    outcomes = apply_retention(engine_for(any_database), detect_edition_url(any_database), settings, NOW)

    assert remaining(any_database, "telemetry_raw", "ts") == kept(RAW_AGES)
    assert remaining(any_database, "telemetry_1m_data", "bucket") == kept(MINUTE_AGES)
    assert remaining(any_database, "telemetry_1h_data", "bucket") == kept(HOUR_AGES)
    assert remaining(any_database, "telemetry_1d_data", "bucket") == kept(DAY_AGES)
    assert remaining(any_database, "dlq", "received_at") == kept(DLQ_AGES)

    by_asset = {outcome.target.asset_key: outcome for outcome in outcomes}
    raw = by_asset["telemetry"]
    assert raw.cutoff == NOW - 30 * D
    # The same figures on every edition, whether rows went in whole chunks or by DELETE.
    assert {asset: outcome.rows_deleted for asset, outcome in by_asset.items()} == {
        "telemetry": 4, "telemetry_1m": 1, "telemetry_1h": 1, "telemetry_1d": 0, "dlq": 2}
    edition = detect_edition_url(any_database)
    if edition.has_hypertables:
        assert len(raw.chunks_dropped) >= 2  # whole day-chunks 40 and 35 days old go with drop_chunks
    if not edition.has_continuous_aggregates:
        assert by_asset["telemetry_1m"].chunks_dropped == []
    assert by_asset["telemetry_1d"].metadata()["policy_days"] == "kept forever"


def test_rerun_is_a_no_op(database_url: str) -> None:
    seed(database_url)
    engine, edition = engine_for(database_url), detect_edition_url(database_url)
    apply_retention(engine, edition, RetentionSettings(), NOW)
    again = apply_retention(engine, edition, RetentionSettings(), NOW)
    assert all(o.rows_deleted == 0 and not o.chunks_dropped for o in again)


@pytest.mark.parametrize("days", [None, 30.0])
def test_cutoff_is_the_clock_minus_the_policy_never_the_data(days: float | None) -> None:
    settings = RetentionSettings(raw_days=days)
    cutoff = settings.cutoff(TARGETS_BY_ASSET["telemetry"], NOW)
    assert cutoff == (None if days is None else NOW - 30 * D)
