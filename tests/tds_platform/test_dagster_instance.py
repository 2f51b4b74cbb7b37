"""dagster.yaml: the instance stores runs in PostgreSQL and queues them under concurrency limits."""

from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresRunStorage

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_repository_dagster_yaml_gives_a_postgres_backed_queued_instance(
    stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its own database, as in the stack: Dagster's storage and ours both keep an alembic_version.
    # Owned by Dagster's login, as the logins script makes `dagster`.
    with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "dagster_instance_test"')
        conn.execute('CREATE DATABASE "dagster_instance_test" OWNER tds_dagster')
    (tmp_path / "dagster.yaml").symlink_to(REPO_ROOT / "dagster.yaml")
    url = stack.postgres.url("dagster_instance_test").replace("postgresql://", "postgresql+psycopg2://")
    monkeypatch.setenv("TDS_DAGSTER_DATABASE_URL", url)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        limits = instance.get_concurrency_config().run_queue_config
        assert limits.max_concurrent_runs == 4
        assert {"key": "tds/domain", "value": "rollups", "limit": 1} in limits.tag_concurrency_limits
        assert instance.get_runs() == []
        # Writing an event runs dagster-postgres' NOTIFY, which fails under psycopg 3.
        instance.report_runless_asset_event(dg.AssetMaterialization("probe"))
        assert instance.get_latest_materialization_event(dg.AssetKey("probe")) is not None


def test_workspace_loads_the_code_location() -> None:
    workspace = (REPO_ROOT / "workspace.yaml").read_text()
    assert "module_name: tds_platform.definitions" in workspace
    assert "attribute: defs" in workspace
