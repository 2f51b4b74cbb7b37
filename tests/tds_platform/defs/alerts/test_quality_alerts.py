"""Quality incidents: figures the real quality run computed open, update and resolve alerts, delivered
to a real HTTP receiver and SMTP server; thresholds per series from tds.metric_spec."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

from tds_platform.alerting.freshness import SeriesFreshness
from tds_platform.alerting.quality import (
    COVERAGE_KIND,
    GOOD_KIND,
    QualityWatch,
    SeriesFigures,
    Shortfall,
    describe,
    figure_alert,
    figure_shortfalls,
    gap_shortfalls,
    judged_window,
)
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.db.engine import engine_for
from tds_platform.defs.alerts.sensors import build_quality_alerts_sensor
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.runner import judge_hours
from tds_platform.quality.settings import QualitySettings

NOW = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
S = timedelta(seconds=1)
QUALITY = QualitySettings()  # 95 % coverage and good, 900 s gaps, the 3 closed hours before now


def stamps(start: datetime, end: datetime, step_s: int = 10) -> list[datetime]:
    return [start + k * step_s * S for k in range(int((end - start) / S) // step_s)]


def insert(url: str, series_id: int, times: list[datetime], quality: int = 0) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO tds.telemetry_raw (series_id, ts, value, quality) VALUES (%s, %s, 1, %s)",
                        [(series_id, ts, quality) for ts in times])


def open_alerts(url: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return {key: (severity, revision) for key, severity, revision in conn.execute(
            "SELECT dedup_key, severity, revision FROM tds.alerts WHERE resolved_at IS NULL")}


def test_figures_under_their_own_or_the_default_threshold_fail() -> None:
    figures = [
        SeriesFigures("acme", "pump-1", "flow", 83.0, 100.0, 95.0, 95.0),
        SeriesFigures("acme", "pump-1", "level", 83.0, 100.0, 80.0, 95.0),  # its own, lower limit
        SeriesFigures("acme", "pump-2", "flow", 99.0, 90.0, 95.0, 95.0),
        SeriesFigures("acme", "meter-1", "energy", None, None, 95.0, 95.0),  # unknown: not judged
    ]
    failing, judged = figure_shortfalls(figures, COVERAGE_KIND)
    assert failing == {("acme", "pump-1"): [Shortfall("flow", 83.0, 95.0)]}
    assert judged == {("acme", "pump-1"), ("acme", "pump-2")}
    failing, _ = figure_shortfalls(figures, GOOD_KIND)
    assert failing == {("acme", "pump-2"): [Shortfall("flow", 90.0, 95.0)]}


def test_a_gap_is_long_past_its_limit_and_past_gap_factor_intervals() -> None:
    series = [SeriesFreshness("acme", "pump-1", NOW - 1000 * S, 10.0, "flow"),
              SeriesFreshness("acme", "pump-1", NOW - 1000 * S, 10.0, "level"),   # allowed an hour
              SeriesFreshness("acme", "meter-1", NOW - 1000 * S, 600.0, "energy"),  # 3 x 600 s not yet over
              SeriesFreshness("acme", "meter-2", NOW - 1000 * S, None, "energy")]   # interval unknown
    limits = {("acme", "pump-1", "flow"): 900.0, ("acme", "pump-1", "level"): 3600.0,
              ("acme", "meter-1", "energy"): 900.0, ("acme", "meter-2", "energy"): 900.0}
    failing, judged = gap_shortfalls(series, limits, NOW, gap_factor=3)
    assert failing == {("acme", "pump-1"): [Shortfall("flow", 1000.0, 900.0)]}
    assert judged == {("acme", "pump-1"), ("acme", "meter-1")}


def test_a_subject_names_a_few_metrics_and_counts_the_rest() -> None:
    shortfalls = [Shortfall(m, 50.0, 95.0) for m in ("a", "b", "c", "d", "e")]
    window = judged_window(NOW, 3)
    alert = figure_alert(COVERAGE_KIND, "acme", "pump-1", shortfalls, window)
    assert alert.subject == "acme/pump-1: coverage under threshold on a, b, c and 2 more"
    assert "e 50.0% (limit 95%)" in alert.message and describe(window) == "2026-03-01 08:00-11:00 UTC"


def test_coverage_and_good_alerts_open_from_the_quality_run_and_resolve_when_backfilled(
    database_url: str, add_series, webhook, smtp,
) -> None:
    flow = add_series("pump-1", "flow", interval_s=10)
    level = add_series("pump-1", "level", interval_s=10)
    temp = add_series("chiller-1", "temp", interval_s=10)
    with psycopg.connect(database_url) as conn:  # level tolerates a lower coverage
        conn.execute("UPDATE tds.metric_spec SET min_coverage_pct = 80 WHERE series_id = %s", (level,))
    start, hole = NOW - 4 * HOUR, (NOW - 2 * HOUR - 20 * 60 * S, NOW - 2 * HOUR + 10 * 60 * S)  # 30 min missing
    for series_id in (flow, level):
        insert(database_url, series_id, stamps(start, hole[0]) + stamps(hole[1], NOW))
    readings = stamps(start, NOW)
    insert(database_url, temp, [ts for k, ts in enumerate(readings) if k % 10])
    insert(database_url, temp, readings[::10], quality=2)  # 10 % bad
    engine = engine_for(database_url)
    closed = NOW.replace(minute=0)
    settings = AlertSettings(webhook_url=webhook.url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                             email_to="ops@example.com", resolve_hold_s=0)
    watch = QualityWatch(engine, AlertService.from_settings(engine, settings), settings, QUALITY)

    judge_hours(engine, closed - 3 * HOUR, closed, NOW, QUALITY.gap_factor)
    outcome = watch.tick(NOW)
    assert sorted(outcome.opened) == ["quality_coverage:acme:pump-1", "quality_good:acme:chiller-1"]
    assert watch.tick(NOW).summary() == "0 quality alerts opened, 2 ongoing, 0 resolved, 0 clear but held"
    coverage = next(b for b in webhook.bodies if b["kind"] == COVERAGE_KIND)
    assert coverage["subject"] == "acme/pump-1: coverage under threshold on flow"  # not level (limit 80)
    assert coverage["details"]["metrics"] == [{"metric": "flow", "pct": 83.33, "threshold_pct": 95.0}]
    assert "2026-03-01 08:00-11:00 UTC: flow 83.3% (limit 95%)" in coverage["message"]
    good = next(b for b in webhook.bodies if b["kind"] == GOOD_KIND)
    assert good["subject"] == "acme/chiller-1: good readings under threshold on temp"

    # The gap backfill lands the missing readings; the quality schedule re-judges the hours.
    insert(database_url, flow, stamps(*hole))
    insert(database_url, level, stamps(*hole))
    judge_hours(engine, closed - 3 * HOUR, closed, NOW, QUALITY.gap_factor)
    assert watch.tick(NOW).resolved == ["quality_coverage:acme:pump-1"]
    assert open_alerts(database_url) == {"quality_good:acme:chiller-1": ("warning", 0)}
    assert [(b["transition"], b["kind"]) for b in webhook.bodies] == [
        ("opened", COVERAGE_KIND), ("opened", GOOD_KIND), ("resolved", COVERAGE_KIND)]
    assert sorted(m["Subject"] for m in smtp.messages) == [
        "[RESOLVED] acme/pump-1: coverage under threshold on flow",
        "[WARNING] acme/chiller-1: good readings under threshold on temp",
        "[WARNING] acme/pump-1: coverage under threshold on flow"]


def test_an_open_gap_opens_escalates_and_resolves_when_data_resumes(database_url: str, add_series, webhook,
                                                                      smtp) -> None:
    flow = add_series("pump-1", "flow", interval_s=10)
    level = add_series("pump-1", "level", interval_s=10)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE tds.metric_spec SET max_gap_s = 7200 WHERE series_id = %s", (level,))
    silent_since = NOW - 20 * 60 * S
    for series_id in (flow, level):
        insert(database_url, series_id, stamps(NOW - 2 * HOUR, silent_since))
    engine = engine_for(database_url)
    settings = AlertSettings(webhook_url=webhook.url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                             email_to="ops@example.com", resolve_hold_s=0)
    watch = QualityWatch(engine, AlertService.from_settings(engine, settings), settings, QUALITY)

    assert watch.tick(NOW).opened == ["quality_gap:acme:pump-1"]
    assert open_alerts(database_url) == {"quality_gap:acme:pump-1": ("warning", 0)}
    watch.tick(NOW + 10 * 60 * S)  # 30 min silent: still the same state, nothing sent
    watch.tick(NOW + 45 * 60 * S)  # 65 min > 4 x 900 s: critical, one update
    watch.tick(NOW + 46 * 60 * S)
    assert open_alerts(database_url) == {"quality_gap:acme:pump-1": ("critical", 1)}
    insert(database_url, flow, [NOW + 47 * 60 * S])
    assert watch.tick(NOW + 47 * 60 * S).resolved == ["quality_gap:acme:pump-1"]

    assert [(b["transition"], b["severity"]) for b in webhook.bodies] == [
        ("opened", "warning"), ("updated", "critical"), ("resolved", "critical")]
    assert webhook.bodies[0]["subject"] == "acme/pump-1: open gap longer than allowed on flow"  # level may wait 2 h
    assert webhook.bodies[0]["details"]["metrics"] == [{"metric": "flow", "silent_for_s": 1210.0, "max_gap_s": 900.0}]
    assert webhook.bodies[0]["message"].startswith("flow silent for 1210.0 s (limit 900 s); newest reading")
    assert [m["Subject"] for m in smtp.messages] == [
        "[WARNING] acme/pump-1: open gap longer than allowed on flow",
        "[CRITICAL, updated] acme/pump-1: open gap longer than allowed on flow",
        "[RESOLVED] acme/pump-1: open gap longer than allowed on flow"]


def test_sensor_judges_with_the_settings_it_was_built_with(database_url: str, add_series, webhook) -> None:
    now = datetime.now(UTC)
    flow = add_series("pump-1", "flow", interval_s=10)
    insert(database_url, flow, stamps(now - 2 * HOUR, now - 30 * 60 * S))
    sensor = build_quality_alerts_sensor(AlertSettings(webhook_url=webhook.url), QualitySettings(max_gap_s=600))
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=database_url)})
        result = sensor.evaluate_tick(context)
    assert not result.run_requests
    assert result.skip_message == "1 quality alerts opened, 0 ongoing, 0 resolved, 0 clear but held"
    assert [b["dedup_key"] for b in webhook.bodies] == ["quality_gap:acme:pump-1"]
