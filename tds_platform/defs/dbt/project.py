"""The dbt project behind the analytics marts, and its manifest prepared so the code location loads fast.

The manifest (dbt_metrics/target/manifest.json) is not committed. Loading the code location
runs `dbt parse` (a few seconds) only when it is missing or older than a project file; it must
never write a half-finished manifest where a concurrent loader could read it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from dagster_dbt import DbtProject

from tds_platform.defs.dbt.resource import platform_dbt
from tds_platform.marts.dbt_cli import DBT_PROJECT_DIR

PROJECT_FILE_SUFFIXES = (".sql", ".yml", ".yaml")
# Only the folders dbt parses: target/ collects one folder per run and may grow large.
SOURCE_FOLDERS = ("models", "macros", "tests")

# `dbt parse` renders profiles.yml but never connects, so it needs connection values, not a server.
PARSE_ONLY_DATABASE_URL = "postgresql://dbt-parse@localhost/dbt_parse"


def newest_project_file_mtime(project_dir: Path) -> float:
    """Last change to any model, macro, test or YAML file of the project."""
    files = [path for folder in SOURCE_FOLDERS for path in (project_dir / folder).rglob("*")]
    files += list(project_dir.glob("*.yml"))
    return max((path.stat().st_mtime for path in files if path.suffix in PROJECT_FILE_SUFFIXES), default=0.0)


def manifest_is_current(project: DbtProject) -> bool:
    manifest = project.manifest_path
    return manifest.exists() and manifest.stat().st_mtime >= newest_project_file_mtime(project.project_dir)


def prepare_manifest(project: DbtProject) -> Path:
    """Runs `dbt parse` when the manifest is missing or stale; returns the manifest path.

    The parse writes into a private folder and the manifest is moved into place atomically, so
    two processes loading at once each see either the old or the new complete file.
    """
    if manifest_is_current(project):
        return project.manifest_path
    scratch = project.project_dir / project.target_path / f".parse-{uuid.uuid4().hex[:8]}"
    try:
        platform_dbt(project, PARSE_ONLY_DATABASE_URL).cli(["parse", "--quiet"], target_path=scratch).wait()
        os.replace(scratch / "manifest.json", project.manifest_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return project.manifest_path


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)
prepare_manifest(dbt_project)
