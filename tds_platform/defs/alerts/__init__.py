"""Alerts: the freshness, quality and DLQ-growth sensors, run-failure alerts and their recovery, and
the delivery of queued notifications, from TDS_ALERT_* (sinks) and TDS_QUALITY_* (thresholds) settings.

Sensors only record and send alerts (tds.alerts, log, webhook, e-mail); they never launch runs.
"""

import dagster as dg

from tds_platform.alerting.settings import AlertSettings
from tds_platform.defs.alerts.sensors import (
    build_alert_delivery_sensor,
    build_dlq_growth_sensor,
    build_freshness_sensor,
    build_quality_alerts_sensor,
    build_run_failure_sensor,
    build_run_recovery_sensor,
)
from tds_platform.quality.settings import QualitySettings


def build_defs(alerts: AlertSettings, quality: QualitySettings) -> dg.Definitions:
    return dg.Definitions(sensors=[
        build_freshness_sensor(alerts), build_quality_alerts_sensor(alerts, quality), build_dlq_growth_sensor(alerts),
        build_run_failure_sensor(alerts), build_run_recovery_sensor(alerts), build_alert_delivery_sensor(alerts),
    ])
