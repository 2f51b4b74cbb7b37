"""The analytics marts' dbt project (dbt_metrics/) as the platform runs it: where it is, which dbt,
connected how. `python -m tds_platform.marts <dbt args>` runs dbt by hand the same way.

Nothing here imports Dagster (tds_platform/defs/dbt/ puts the marts in the asset graph).
"""
