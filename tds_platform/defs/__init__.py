"""Dagster definitions, one folder per domain (sources, rollups, quality, alerts, retention, dbt).

Each domain package exposes a `defs` object; `tds_platform.definitions` only merges them.
"""
