"""The Dagster code location: merges each domain's definitions and nothing else.

Loaded by `workspace.yaml` as `tds_platform.definitions:defs`.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.resources import DatabaseResource
from tds_platform.settings import PlatformSettings

resources = {"database": DatabaseResource(url=PlatformSettings().resolved_database_url())}

defs = dg.Definitions.merge(
    dg.Definitions(resources=resources),
)
