"""The Dagster code location: merges each domain's definitions and nothing else.

Loaded by `workspace.yaml` as `tds_platform.definitions:defs`.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs import alerts as alerts_defs
from tds_platform.defs import backfill as backfill_defs
from tds_platform.defs import dbt as dbt_defs
from tds_platform.defs import quality as quality_defs
from tds_platform.defs import replay as replay_defs
from tds_platform.defs import retention as retention_defs
from tds_platform.defs import rollups as rollups_defs
from tds_platform.defs import sources as sources_defs
from tds_platform.defs.resources import DatabaseResource
from tds_platform.settings import PlatformSettings

resources = {"database": DatabaseResource(url=PlatformSettings().resolved_database_url())}

# Every step here is a SQL statement or a dbt call: a subprocess per step (Dagster's default) cost
# ~20 s each on the 2-core machines and bought no parallelism.
defs = dg.Definitions.merge(
    dg.Definitions(resources=resources, executor=dg.in_process_executor),
    sources_defs.defs,
    rollups_defs.defs,
    retention_defs.defs,
    alerts_defs.defs,
    dbt_defs.defs,
    backfill_defs.defs,
    replay_defs.defs,
    quality_defs.defs,
)
