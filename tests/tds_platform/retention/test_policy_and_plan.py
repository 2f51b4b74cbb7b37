"""Retention policy settings and the per-edition plan: pure, no database."""

import pytest
from pydantic import ValidationError

from tds_platform.db.edition import Edition
from tds_platform.retention.plan import DELETE_BATCH, delete_batch_sql, drops_chunks
from tds_platform.retention.policy import TARGETS, TARGETS_BY_ASSET, RetentionSettings


def test_defaults_follow_the_issue() -> None:
    settings = RetentionSettings()
    days = {target.asset_key: settings.days(target) for target in TARGETS}
    assert days == {"telemetry": 30, "telemetry_1m": 90, "telemetry_1h": 730, "telemetry_1d": None, "dlq": 14}


def test_environment_configures_each_table_and_keep_means_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TDS_RETENTION_RAW_DAYS", "keep")
    monkeypatch.setenv("TDS_RETENTION_DLQ_DAYS", "3.5")
    settings = RetentionSettings()
    assert settings.raw_days is None
    assert settings.dlq_days == 3.5
    monkeypatch.setenv("TDS_RETENTION_DLQ_DAYS", "0")
    with pytest.raises(ValidationError):
        RetentionSettings()


@pytest.mark.parametrize(("asset", "edition", "wanted"), [
    ("telemetry", Edition.FULL, True),
    ("telemetry", Edition.APACHE, True),
    ("telemetry", Edition.NONE, False),
    ("telemetry_1m", Edition.FULL, True),
    ("telemetry_1m", Edition.APACHE, False),
    ("telemetry_1h", Edition.NONE, False),
    ("dlq", Edition.FULL, False),
])
def test_whole_chunks_go_first_where_the_storage_has_chunks(asset: str, edition: Edition, wanted: bool) -> None:
    assert drops_chunks(TARGETS_BY_ASSET[asset], edition) is wanted


def test_a_continuous_aggregate_deletes_its_remainder_from_the_table_the_catalog_names() -> None:
    target = TARGETS_BY_ASSET["telemetry_1m"]
    clause = delete_batch_sql(target, '_timescaledb_internal."_materialized_hypertable_3"').text
    assert 'DELETE FROM _timescaledb_internal."_materialized_hypertable_3" WHERE bucket < :cutoff' in clause
    assert "(series_id, bucket) IN" in clause


def test_batched_deletes_key_on_the_primary_key_never_ctid() -> None:
    raw = DELETE_BATCH["raw_days"].text
    assert "(series_id, ts) IN" in raw and "ts < :cutoff" in raw
    assert "(id) IN" in DELETE_BATCH["dlq_days"].text
    assert all("ctid" not in clause.text for clause in DELETE_BATCH.values())
