"""Alerts for the platform: the incident store over tds.alerts, the sinks, and the freshness watch.

Plain Python with no Dagster import, so the CLI and the sensors share it; it must never send the
same incident twice or print a sink's secret (webhook URL, SMTP password).
"""
