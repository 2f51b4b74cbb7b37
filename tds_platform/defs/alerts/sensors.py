"""The alerting sensors: equipment freshness, quality incidents and DLQ growth every minute, run
failures and recoveries, and the delivery of queued notifications (retries) every 30 seconds.

Sensors are built by small factories from AlertSettings so tests pass their own; they only call
the alerting package and never launch runs.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import dagster as dg
from sqlalchemy import Engine

from tds_platform.alerting.dead_letters import DlqGrowthWatch
from tds_platform.alerting.freshness import FreshnessWatch
from tds_platform.alerting.quality import QualityWatch
from tds_platform.alerting.run_failures import run_failure_alert, run_failure_key
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings


class Outcome(Protocol):
    def summary(self) -> str: ...


# What a watch does on one tick, given the database and the alert service.
Watch = Callable[[Engine, AlertService], Outcome]


def watch_sensor(settings: AlertSettings, name: str, interval_s: int, description: str,
                 watch: Watch) -> dg.SensorDefinition:
    """A sensor that runs `watch` every `interval_s` and shows its summary as the tick's skip reason."""
    @dg.sensor(name=name, minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.RUNNING,
               description=description)
    def alert_watch(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
        engine = database.engine()
        return dg.SkipReason(watch(engine, AlertService.from_settings(engine, settings, context.log)).summary())

    return alert_watch


def build_freshness_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    return watch_sensor(
        settings, "equipment_freshness", 60,
        "Every minute: alert when an equipment goes silent, or when nothing arrives at all.",
        lambda engine, service: FreshnessWatch(engine, service, settings).tick(datetime.now(UTC)))


def build_quality_alerts_sensor(settings: AlertSettings, quality: QualitySettings) -> dg.SensorDefinition:
    return watch_sensor(
        settings, "quality_alerts", 60,
        "Every minute: one alert per equipment whose coverage or good % over the judged hours is under threshold, "
        "or with a gap open for longer than allowed; resolved when it recovers.",
        lambda engine, service: QualityWatch(engine, service, settings, quality).tick(datetime.now(UTC)))


def build_alert_delivery_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    return watch_sensor(
        settings, "alert_delivery", 30,
        "Every 30 s: retry notifications a sink could not take (backoff per notification).",
        lambda engine, service: service.deliver())


def build_dlq_growth_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    return watch_sensor(
        settings, "dlq_growth", 60,
        "Every minute: alert when dead letters pile up faster than the configured threshold.",
        lambda engine, service: DlqGrowthWatch(engine, service, settings).tick())


def build_run_failure_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(name="run_failure_alerts", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Open an alert when a job of this code location fails.")
    def run_failure_alerts(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
        run = context.dagster_run
        service = AlertService.from_settings(database.engine(), settings, context.log)
        service.open(run_failure_alert(run.job_name, run.run_id, context.failure_event.message))

    return run_failure_alerts


def build_run_recovery_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="run_recovery_alerts",
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Resolve a job's failure alert when the job succeeds again.")
    def run_recovery_alerts(context: dg.RunStatusSensorContext, database: DatabaseResource) -> None:
        service = AlertService.from_settings(database.engine(), settings, context.log)
        service.resolve(run_failure_key(context.dagster_run.job_name))

    return run_recovery_alerts
