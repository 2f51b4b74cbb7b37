"""The Dagster code location: reads each component's settings once, hands them to the domain that
needs them, and merges the domains' definitions; nothing else.

Loaded by `workspace.yaml` as `tds_platform.definitions:defs`. Loading needs no environment and
reads no secret: the database and broker URLs are `dg.EnvVar`s that Dagster resolves when a run or
a tick starts (see defs/resources.py).
"""

from __future__ import annotations

import dagster as dg

from ingest_stream.settings import ParsingSettings
from tds_platform.alerting.settings import AlertSettings
from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs import alerts as alerts_defs
from tds_platform.defs import backfill as backfill_defs
from tds_platform.defs import dbt as dbt_defs
from tds_platform.defs import quality as quality_defs
from tds_platform.defs import replay as replay_defs
from tds_platform.defs import retention as retention_defs
from tds_platform.defs import rollups as rollups_defs
from tds_platform.defs import sources as sources_defs
from tds_platform.defs.resources import DATABASE_URL, DatabaseResource
from tds_platform.quality.settings import QualitySettings
from tds_platform.retention.policy import RetentionSettings
from tds_platform.rollups.settings import RollupSettings

rollups, retention, quality = RollupSettings(), RetentionSettings(), QualitySettings()

# Every step here is a SQL statement or a dbt call: a subprocess per step (Dagster's default) cost
# ~20 s each on the 2-core machines and bought no parallelism.
defs = dg.Definitions.merge(
    dg.Definitions(resources={"database": DatabaseResource(url=DATABASE_URL)}, executor=dg.in_process_executor),
    sources_defs.build_defs(),
    rollups_defs.build_defs(rollups, retention),
    retention_defs.build_defs(retention),
    alerts_defs.build_defs(AlertSettings(), quality),
    dbt_defs.build_defs(rollups),
    backfill_defs.build_defs(BackfillSettings(), quality),
    replay_defs.build_defs(ParsingSettings()),
    quality_defs.build_defs(quality),
)
