"""Alerts: the freshness and DLQ-growth sensors, run-failure alerts and their recovery, from TDS_ALERT_* settings.

Sensors only record and send alerts (tds.alerts, log, webhook, e-mail); they never launch runs.
"""

import dagster as dg

from tds_platform.alerting.settings import AlertSettings
from tds_platform.defs.alerts.sensors import (
    build_dlq_growth_sensor,
    build_freshness_sensor,
    build_run_failure_sensor,
    build_run_recovery_sensor,
)

_settings = AlertSettings()

defs = dg.Definitions(sensors=[
    build_freshness_sensor(_settings), build_dlq_growth_sensor(_settings), build_run_failure_sensor(_settings),
    build_run_recovery_sensor(_settings),
])
