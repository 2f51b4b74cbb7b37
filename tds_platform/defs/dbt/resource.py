"""The dbt CLI resource of the platform: dagster-dbt's, connected through TDS_DATABASE_URL.

It must never pass the connection on the command line (visible in process lists and run logs):
only through the environment of the dbt process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from pydantic import Field

from tds_platform.marts.dbt_cli import dbt_connection_env, dbt_executable, process_environment


class PlatformDbtResource(DbtCliResource):
    """DbtCliResource whose invocations connect to `database_url` (profiles.yml reads TDS_DBT_*)."""

    database_url: str = Field(description="postgresql://... of the platform database (TDS_DATABASE_URL)")

    def cli(self, args: Sequence[str], *, target_path: Path | None = None, **kwargs: Any) -> DbtCliInvocation:
        with process_environment(dbt_connection_env(self.database_url)):
            return super().cli(args, target_path=target_path, **kwargs)


def platform_dbt(project: DbtProject, database_url: str) -> PlatformDbtResource:
    """The resource for `project` on `database_url`, running the dbt installed beside this Python."""
    return PlatformDbtResource(project_dir=project, database_url=database_url, dbt_executable=dbt_executable())
