"""The DLQ-growth sensor against a real database and Dagster instance: one alert per incident."""

from __future__ import annotations

import dagster as dg
import psycopg

from tds_platform.alerting.settings import AlertSettings
from tds_platform.defs.alerts.sensors import build_dlq_growth_sensor
from tds_platform.defs.resources import DatabaseResource


def _dead_letters(url: str, count: int, reason: str, age: str = "1 minute") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO tds.dlq (received_at, topic, payload, reason) "
                     "SELECT now() - %s::interval, 'tds/a/s/e/telem', '\\x00', %s FROM generate_series(1, %s)",
                     (age, reason, count))


def _alerts(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dedup_key, resolved_at IS NULL, details FROM tds.alerts ORDER BY id").fetchall()


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, url: str) -> str:
    context = dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=url)})
    result = sensor.evaluate_tick(context)
    assert not result.run_requests
    return result.skip_message or ""


def test_dlq_growth_opens_once_and_resolves_when_it_calms_down(database_url: str, webhook) -> None:
    sensor = build_dlq_growth_sensor(AlertSettings(dlq_threshold=10, dlq_window_minutes=15, webhook_url=webhook.url))
    _dead_letters(database_url, 50, "invalid_json", age="2 hours")  # old: outside the window
    _dead_letters(database_url, 7, "invalid_json")
    with dg.DagsterInstance.ephemeral() as instance:
        assert _tick(sensor, instance, database_url) == "7 dead letters in the window (invalid_json 7)"
        assert _alerts(database_url) == []
        _dead_letters(database_url, 4, "bad_timestamp")
        for _ in range(3):
            _tick(sensor, instance, database_url)
        alerts = _alerts(database_url)
        assert [(key, is_open) for key, is_open, _ in alerts] == [("dlq_growth", True)]
        assert alerts[0][2]["by_reason"] == {"invalid_json": 7, "bad_timestamp": 4}
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE tds.dlq SET received_at = now() - interval '1 hour'")
        _tick(sensor, instance, database_url)
        _tick(sensor, instance, database_url)
    assert [(key, is_open) for key, is_open, _ in _alerts(database_url)] == [("dlq_growth", False)]
    assert [b["transition"] for b in webhook.bodies] == ["opened", "resolved"]
