"""Alerts for the platform: the incident store over tds.alerts, its delivery outbox and sinks, and the
watches that open and resolve incidents (freshness, quality, DLQ growth).

Plain Python with no Dagster import, so the CLI and the sensors share it; it must never send the
same state of an incident twice, lose one because a sink was down, or print a sink's secret
(webhook URL, SMTP password).
"""
