"""The alerting sensors: equipment freshness, quality incidents and DLQ growth every minute, run
failures and recoveries, and the delivery of queued notifications (retries) every 30 seconds.

Sensors are built by small factories from AlertSettings so tests pass their own; they only call
the alerting package and never launch runs.
"""

from datetime import UTC, datetime

import dagster as dg

from tds_platform.alerting.dead_letters import DlqGrowthWatch
from tds_platform.alerting.freshness import FreshnessWatch
from tds_platform.alerting.quality import QualityWatch
from tds_platform.alerting.run_failures import run_failure_alert, run_failure_key
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.defs.resources import DatabaseResource
from tds_platform.quality.settings import QualitySettings


def build_freshness_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    @dg.sensor(name="equipment_freshness", minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Every minute: alert when an equipment goes silent, or when nothing arrives at all.")
    def equipment_freshness(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
        engine = database.engine()
        service = AlertService.from_settings(engine, settings, context.log)
        outcome = FreshnessWatch(engine, service, settings).tick(datetime.now(UTC))
        return dg.SkipReason(outcome.summary())

    return equipment_freshness


def build_quality_alerts_sensor(settings: AlertSettings, quality: QualitySettings) -> dg.SensorDefinition:
    @dg.sensor(name="quality_alerts", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Every minute: one alert per equipment whose coverage or good % over the judged hours is "
                           "under threshold, or with a gap open for longer than allowed; resolved when it recovers.")
    def quality_alerts(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
        engine = database.engine()
        service = AlertService.from_settings(engine, settings, context.log)
        outcome = QualityWatch(engine, service, settings, quality).tick(datetime.now(UTC))
        return dg.SkipReason(outcome.summary())

    return quality_alerts


def build_alert_delivery_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    @dg.sensor(name="alert_delivery", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Every 30 s: retry notifications a sink could not take (backoff per notification).")
    def alert_delivery(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
        outcome = AlertService.from_settings(database.engine(), settings, context.log).deliver()
        return dg.SkipReason(outcome.summary())

    return alert_delivery


def build_dlq_growth_sensor(settings: AlertSettings) -> dg.SensorDefinition:
    @dg.sensor(name="dlq_growth", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Every minute: alert when dead letters pile up faster than the configured threshold.")
    def dlq_growth(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
        engine = database.engine()
        growth = DlqGrowthWatch(engine, AlertService.from_settings(engine, settings, context.log), settings).tick()
        return dg.SkipReason(growth.summary())

    return dlq_growth


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
