"""The analytics marts as Dagster assets: one `dbt build` per run over the run's days.

Daily partitions shared with the platform, the running day included (like the daily rollup), so
analysts see today within minutes; a backfill of any date range is one run whose range reaches
dbt as the `start`/`end` vars. Must never run dbt outside the partition window it was given.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at definition time.
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import dbt_assets

from tds_platform.defs.dbt.project import dbt_project
from tds_platform.defs.dbt.resource import PlatformDbtResource
from tds_platform.defs.dbt.translator import PlatformDbtTranslator
from tds_platform.defs.partitions import daily_partitions_with_current


def build_args(window: dg.TimeWindow) -> list[str]:
    """`dbt build` over [window.start, window.end), UTC, as the project's window vars."""
    window_vars = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    return ["build", "--vars", json.dumps(window_vars)]


def build_analytics_marts(recent_days: int) -> dg.AssetsDefinition:
    """The marts; days older than the `recent_days` the marts schedule rebuilds follow their upstream
    (see translator.py)."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=PlatformDbtTranslator(recent_days),
        partitions_def=daily_partitions_with_current,
        backfill_policy=dg.BackfillPolicy.single_run(),
        name="analytics_marts",
    )
    def analytics_marts(context: dg.AssetExecutionContext, dbt: PlatformDbtResource) -> Iterator[Any]:
        """Builds and tests the marts for the selected days; dbt tests report as asset checks."""
        yield from dbt.cli(build_args(context.partition_time_window), context=context).stream()

    return analytics_marts
