"""Retention policy settings and the per-edition plan: pure, no database."""

import pytest
from pydantic import ValidationError

from tds_platform.db.edition import Edition
from tds_platform.defs.retention.plan import DELETE_BATCH, Plan, plan
from tds_platform.defs.retention.policy import TARGETS, TARGETS_BY_ASSET, RetentionSettings


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
    ("telemetry", Edition.FULL, Plan(drop_chunks=True, delete=True)),
    ("telemetry", Edition.APACHE, Plan(drop_chunks=True, delete=True)),
    ("telemetry", Edition.NONE, Plan(drop_chunks=False, delete=True)),
    ("telemetry_1m", Edition.FULL, Plan(drop_chunks=True, delete=False)),
    ("telemetry_1m", Edition.APACHE, Plan(drop_chunks=False, delete=True)),
    ("telemetry_1h", Edition.NONE, Plan(drop_chunks=False, delete=True)),
    ("dlq", Edition.FULL, Plan(drop_chunks=False, delete=True)),
])
def test_plan_per_edition(asset: str, edition: Edition, wanted: Plan) -> None:
    assert plan(TARGETS_BY_ASSET[asset], edition) == wanted


def test_batched_deletes_key_on_the_primary_key_never_ctid() -> None:
    raw = DELETE_BATCH["raw_days"].text
    assert "(series_id, ts) IN" in raw and "ts < :cutoff" in raw
    assert "(id) IN" in DELETE_BATCH["dlq_days"].text
    assert all("ctid" not in clause.text for clause in DELETE_BATCH.values())
