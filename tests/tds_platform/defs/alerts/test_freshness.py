"""The freshness watch: pure judgement, and the sensor evaluated against a real instance and database."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

from tds_platform.alerting.freshness import SeriesFreshness, judge, newest_per_series
from tds_platform.alerting.settings import AlertSettings
from tds_platform.db.engine import engine_for
from tds_platform.defs.alerts.sensors import build_freshness_sensor
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.measure import Window, measure_window

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def test_an_equipment_is_silent_only_when_all_its_known_series_are_overdue() -> None:
    series = [
        SeriesFreshness("acme", "pump-1", NOW - 31 * S, 10.0),   # overdue (3 x 10 s)
        SeriesFreshness("acme", "pump-1", NOW - 100 * S, 60.0),  # fine (3 x 60 s)
        SeriesFreshness("acme", "pump-2", NOW - 31 * S, 10.0),
        SeriesFreshness("acme", "pump-2", NOW - 200 * S, 60.0),
        SeriesFreshness("acme", "pump-2", NOW - 5 * S, None),    # unknown interval: not judged
        SeriesFreshness("acme", "meter-9", NOW - 999 * S, None),
    ]
    judged = {item.equipment: item for item in judge(series, NOW, silence_factor=3)}
    assert set(judged) == {"pump-1", "pump-2"}
    assert not judged["pump-1"].silent
    assert judged["pump-2"].silent
    assert judged["pump-2"].newest == NOW - 5 * S and judged["pump-2"].interval_s == 10.0


def open_alerts(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dedup_key, severity FROM tds.alerts WHERE resolved_at IS NULL "
                            "ORDER BY dedup_key").fetchall()


def all_alerts(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM tds.alerts").fetchone()[0]


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, url: str) -> str:
    context = dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=url)})
    result = sensor.evaluate_tick(context)
    assert not result.run_requests
    return result.skip_message or ""


def test_sensor_opens_once_and_resolves_once_across_ticks(database_url: str, webhook, add_series,
                                                          add_readings) -> None:
    now = datetime.now(UTC)
    pump = add_series("pump-1", "flow", interval_s=10)
    meter = add_series("meter-1", "energy")  # no spec: the median spacing (60 s) is inferred
    add_readings(pump, [now - timedelta(minutes=m) for m in range(5, 30)])
    add_readings(meter, [now - timedelta(seconds=30 + 60 * i) for i in range(120)])
    sensor = build_freshness_sensor(AlertSettings(webhook_url=webhook.url))

    with dg.DagsterInstance.ephemeral() as instance:
        summaries = [tick(sensor, instance, database_url) for _ in range(3)]
        assert open_alerts(database_url) == [("freshness:acme:pump-1", "warning")]
        assert summaries[0] == "2 equipment judged, 1 silent, 1 alerts opened, 0 resolved"
        assert summaries[2] == "2 equipment judged, 1 silent, 0 alerts opened, 0 resolved"

        add_readings(pump, [datetime.now(UTC)])
        summaries = [tick(sensor, instance, database_url) for _ in range(2)]

    assert summaries == ["2 equipment judged, 0 silent, 0 alerts opened, 1 resolved",
                         "2 equipment judged, 0 silent, 0 alerts opened, 0 resolved"]
    assert open_alerts(database_url) == []
    assert all_alerts(database_url) == 1
    assert [(b["transition"], b["dedup_key"]) for b in webhook.bodies] == [
        ("opened", "freshness:acme:pump-1"), ("resolved", "freshness:acme:pump-1")]
    assert "acme/pump-1 is silent" in webhook.bodies[0]["text"]
    assert webhook.bodies[0]["details"]["expected_interval_s"] == 10


def test_no_data_from_anyone_is_one_critical_alert(database_url: str, add_series, add_readings) -> None:
    now = datetime.now(UTC)
    pump = add_series("pump-1", "flow", interval_s=60)
    add_readings(pump, [now - timedelta(minutes=20 + m) for m in range(10)])
    sensor = build_freshness_sensor(AlertSettings(fleet_silence_minutes=15))

    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            assert tick(sensor, instance, database_url).endswith("NO DATA FROM ANYONE")
        assert open_alerts(database_url) == [("fleet_silence", "critical"), ("freshness:acme:pump-1", "warning")]
        add_readings(pump, [datetime.now(UTC)])
        tick(sensor, instance, database_url)
    assert open_alerts(database_url) == []
    assert all_alerts(database_url) == 2


def test_an_empty_fleet_is_not_an_outage(database_url: str) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert tick(build_freshness_sensor(AlertSettings()), instance, database_url).startswith("0 equipment judged")
    assert all_alerts(database_url) == 0


def test_the_interval_the_quality_run_remembered_is_used_before_inferring(database_url: str, add_series,
                                                                            add_readings) -> None:
    now = datetime.now(UTC)
    meter = add_series("meter-1", "energy")  # no registered interval
    # The data alone says 60 s (silent for 2 minutes: not silent), the remembered interval says 10 s.
    add_readings(meter, [now - timedelta(seconds=120 + 60 * i) for i in range(30)])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE tds.metric_spec SET inferred_interval_s = 10, inferred_until = now() "
                     "WHERE series_id = %s", (meter,))
    with dg.DagsterInstance.ephemeral() as instance:
        summary = tick(build_freshness_sensor(AlertSettings()), instance, database_url)
    assert summary == "1 equipment judged, 1 silent, 1 alerts opened, 0 resolved"


def test_freshness_and_the_gap_check_judge_a_series_by_the_same_interval(database_url: str, add_series,
                                                                          add_readings) -> None:
    """A meter that once reported every 10 minutes (the median remembered for it is two days old)
    and has reported every 10 s for the last six hours, silent for three minutes. The gap check
    does not reuse a median that old: by 10 s, the silence is an open gap. Freshness used to take
    whatever median was remembered, however old: by 600 s, the meter was still talking."""
    closed = datetime(2026, 3, 1, 11, tzinfo=UTC)  # the end of the last closed hour
    now = closed + timedelta(minutes=2)
    meter = add_series("meter-1", "energy")  # no registered interval
    add_readings(meter, [closed - timedelta(seconds=60 + 10 * k) for k in range(6 * 360)])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE tds.metric_spec SET inferred_interval_s = 600, inferred_until = %s WHERE series_id = %s",
                     (closed - 2 * timedelta(days=1), meter))
    engine = engine_for(database_url)

    with engine.connect() as conn:
        hour = measure_window(conn, Window(closed - timedelta(hours=1), closed, now), gap_factor=3)
    [series] = newest_per_series(engine, now, timedelta(days=7))

    assert hour.series.loc[0, "interval_s"] == series.interval_s == 10
    assert len(hour.gaps) == 1 and hour.gaps["gap_end"].isna().all(), "the gap check: an open gap"
    [equipment] = judge([series], now, silence_factor=3)
    assert equipment.silent, "freshness: silent, by the same interval"
