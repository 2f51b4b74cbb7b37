"""Dagster definitions only, one folder per domain (sources, rollups, quality, alerts, retention,
backfill, replay, dbt): assets, checks, jobs, sensors, schedules and resources.

The logic they call lives in the domain packages beside this one (tds_platform.rollups, .quality,
...), which never import from here. Each domain exposes `build_defs(<its settings>)`;
`tds_platform.definitions` reads the settings and merges them.
"""
