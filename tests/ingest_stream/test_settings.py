"""The writer's settings, without a network: what they refuse, what they derive, where they come from.

No servers here: a setting that is wrong must stop the writer before it touches the broker or the database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from ingest_stream.settings import Coordination, IngestSettings, ParsingSettings, redact_url


@pytest.mark.parametrize(("fields", "complaint"), [
    ({"coordination": "shared"}, "needs a group"),
    ({"coordination": "shared", "mqtt_group": "g", "mqtt_protocol": "3.1.1"}, "need MQTT 5"),
    ({"batch_size": 500, "receive_maximum": 100}, "receive maximum"),
    ({"instance_id": "a b"}, "instance_id"),
    ({"instance_id": "x" * 65}, "instance_id"),
    ({"mqtt_group": "g/#"}, "mqtt_group"),
    ({"mqtt_protocol": "4"}, "mqtt_protocol"),
    ({"mqtt_qos": 3}, "mqtt_qos"),
    ({"batch_size": 0}, "batch_size"),
    ({"coordination": "raft"}, "coordination"),
])
def test_settings_refuse_inconsistent_values(fields: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        IngestSettings(instance_id=str(fields.pop("instance_id", "i-1")), **fields)


def test_settings_derive_coordination_and_window() -> None:
    solo = IngestSettings(instance_id="a")
    assert solo.effective_coordination is Coordination.NONE
    assert solo.effective_receive_maximum == 3 * solo.batch_size, "a batch per write connection and one filling"
    assert IngestSettings(instance_id="a", write_connections=1).effective_receive_maximum == 2 * solo.batch_size
    shared = IngestSettings(instance_id="a", mqtt_group="g", batch_size=40_000)
    assert shared.effective_coordination is Coordination.SHARED
    assert shared.effective_receive_maximum == 65_535
    old_broker = IngestSettings(instance_id="a", mqtt_group="g", mqtt_protocol="3.1.1")
    assert old_broker.effective_coordination is Coordination.NONE


def test_the_oldest_reading_accepted_follows_the_raw_retention_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ParsingSettings().max_reading_age == timedelta(days=30)
    monkeypatch.setenv("TDS_RETENTION_RAW_DAYS", "7")
    assert ParsingSettings().max_reading_age == timedelta(days=7)
    assert ParsingSettings().parser().limits.max_age == timedelta(days=7)
    monkeypatch.setenv("TDS_RETENTION_RAW_DAYS", "keep")
    assert ParsingSettings().max_reading_age is None, "kept forever: only the 2000-01-01 floor and the days bound"
    monkeypatch.setenv("TDS_MAX_READING_AGE_DAYS", "90")
    assert ParsingSettings().max_reading_age == timedelta(days=90)


def test_settings_come_from_tds_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TDS_MQTT_GROUP", "writers")
    monkeypatch.setenv("TDS_BATCH_SIZE", "300")
    monkeypatch.setenv("TDS_INSTANCE_ID", "w-9")
    settings = IngestSettings()
    assert (settings.mqtt_group, settings.batch_size, settings.instance_id) == ("writers", 300, "w-9")
    assert IngestSettings(batch_size=5).batch_size == 5, "an explicit flag beats the environment"


@pytest.mark.parametrize(("url", "shown"), [
    ("mqtt://tds-ingest:s3cret@broker:1883", "mqtt://tds-ingest:***@broker:1883"),
    ("postgresql://writer:p%40ss@db:5432/tds", "postgresql://writer:***@db:5432/tds"),
    ("postgresql://writer:p@ss@db/tds", "postgresql://writer:***@db/tds"),
    ("postgresql://writer@db/tds", "postgresql://writer@db/tds"),
    ("postgresql://writer@db/tds?password=s3cret&sslmode=require", "postgresql://writer@db/tds?password=***&sslmode=require"),
    ("mqtts://broker:8883", "mqtts://broker:8883"),
    ("host=db user=writer password=s3cret dbname=tds", "host=db user=writer password=*** dbname=tds"),
    ("host=db password='s3cret \\' quoted' port=5432", "host=db password=*** port=5432"),
])
def test_redact_url_never_shows_a_password(url: str, shown: str) -> None:
    redacted = redact_url(url)
    assert redacted == shown
    assert "s3cret" not in redacted and "p@ss" not in redacted and "p%40ss" not in redacted
