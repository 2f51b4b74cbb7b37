"""The local stack: status, broker config that keeps messages, and a clean stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from tds_platform.stack import LocalStack, StackError, StackLayout
from tds_platform.stack.layout import free_port
from tds_platform.stack.postgres import LocalPostgres
from tds_platform.stack.processes import pid_alive


def test_running_stack_reports_both_servers_and_the_edition(stack: LocalStack) -> None:
    state = stack.status()
    assert state.healthy
    assert (state.postgres.version or "").startswith("15")
    assert (state.broker.version or "").startswith("2.")
    # The template database was migrated, but status reads the `tds` database, never migrated here:
    # the extension the image (and `provision`) creates there says which edition the server runs.
    assert state.edition == stack.layout.edition


def test_broker_config_overrides_the_defaults_that_lose_data(stack: LocalStack) -> None:
    conf = stack.layout.mqtt_conf.read_text()
    assert "persistence true" in conf
    assert "max_queued_messages 0" in conf
    assert "allow_anonymous false" in conf


def test_cli_up_status_down_leaves_no_process_and_keeps_data() -> None:
    root = Path(tempfile.mkdtemp(prefix="tds-cli-"))
    root.chmod(0o755)
    pg_port, mqtt_port, service_port = free_port(), free_port(), free_port()
    tds = [sys.executable, "-m", "tds_platform.cli.main"]
    try:
        up = subprocess.run([*tds, "stack", "up", "--stack-dir", str(root), "--pg-port", str(pg_port),
                             "--mqtt-port", str(mqtt_port), "--mqtt-service-port", str(service_port)],
                            capture_output=True, text=True, check=False)
        assert up.returncode == 0, up.stderr
        status = subprocess.run([*tds, "stack", "status", "--stack-dir", str(root)],
                                capture_output=True, text=True, check=False)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "postgresql  up" in status.stdout
        assert "mosquitto   up" in status.stdout
        assert "timescaledb edition:" in status.stdout
        local = LocalStack(StackLayout.load(root))
        pids = [local.status().postgres.pid, local.status().broker.pid]
        with psycopg.connect(local.database_url(login="tds_owner"), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
        down = subprocess.run([*tds, "stack", "down", "--stack-dir", str(root)],
                              capture_output=True, text=True, check=False)
        assert down.returncode == 0, down.stderr
        assert not any(pid and pid_alive(pid) for pid in pids)
        stopped = subprocess.run([*tds, "stack", "status", "--stack-dir", str(root)],
                                 capture_output=True, text=True, check=False)
        assert stopped.returncode == 1
        local.up()
        with psycopg.connect(local.database_url(login="tds_owner")) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        local.down()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_cli_adds_and_removes_device_accounts(stack: LocalStack) -> None:
    from click.testing import CliRunner

    from tds_platform.cli.main import cli

    root = str(stack.layout.root)
    added = CliRunner().invoke(cli, ["stack", "user", "add", "tenant-x", "--stack-dir", root])
    assert added.exit_code == 0, added.output
    assert stack.broker.credentials()["tenant-x"] == added.output.strip()
    removed = CliRunner().invoke(cli, ["stack", "user", "remove", "tenant-x", "--stack-dir", root])
    assert removed.exit_code == 0, removed.output
    assert "tenant-x" not in stack.broker.credentials()
    refused = CliRunner().invoke(cli, ["stack", "user", "remove", "tds-ingest", "--stack-dir", root])
    assert refused.exit_code == 1
    assert "service account" in refused.output


def test_the_stack_runs_in_the_shape_we_ship(stack: LocalStack) -> None:
    """Services log in over TCP with their passwords; the superuser only through the stack's socket."""
    with psycopg.connect(stack.database_url()) as conn:
        assert conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() \
            == ("tds_dagster", False)
    tcp_superuser = f"postgresql://postgres@127.0.0.1:{stack.layout.pg_port}/tds"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(tcp_superuser)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(stack.database_url().replace(stack.postgres.logins()["tds_dagster"], "guess"))
    assert stack.layout.pg_logins.stat().st_mode & 0o077 == 0, "the logins file is the owner's alone"


def test_url_prints_a_login_that_connects_and_says_when_there_is_no_stack(stack: LocalStack, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tds_platform.cli.main import cli

    printed = CliRunner().invoke(cli, ["stack", "url", "--login", "tds_ingest", "--stack-dir", str(stack.layout.root)])
    assert printed.exit_code == 0, printed.output
    with psycopg.connect(printed.output.strip()) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("tds_ingest",)
    missing = CliRunner().invoke(cli, ["stack", "url", "--stack-dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert "there is no local stack" in missing.output


def test_a_stack_made_before_service_logins_is_refused_with_what_to_do(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path, pg_port=free_port(), mqtt_port=free_port())
    layout.pg_data.mkdir(parents=True)
    (layout.pg_data / "PG_VERSION").write_text("15\n")
    with pytest.raises(StackError, match=r"made before services had their own database logins(.|\n)*rm -rf"):
        LocalPostgres(layout).init()


def test_an_existing_stack_keeps_its_edition(stack: LocalStack) -> None:
    from click.testing import CliRunner

    from tds_platform.cli.main import cli

    other = "none" if stack.layout.edition != "none" else "apache"
    refused = CliRunner().invoke(cli, ["stack", "up", "--edition", other, "--stack-dir", str(stack.layout.root)])
    assert refused.exit_code == 1
    assert f"runs the {stack.layout.edition} edition" in refused.output


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the servers as their own users")
def test_a_stack_that_the_service_users_cannot_reach_is_refused_at_once_in_one_sentence() -> None:
    """A clone in a folder only root may enter (`mktemp -d`, /root): initdb, running as postgres,
    used to fail with `could not change directory ...: Permission denied`."""
    private = Path(tempfile.mkdtemp(prefix="tds-private-"))  # mode 0700
    root = private / "clone" / ".tds"
    try:
        up = subprocess.run([sys.executable, "-m", "tds_platform.cli.main", "stack", "up", "--stack-dir", str(root),
                             "--pg-port", str(free_port()), "--mqtt-port", str(free_port())],
                            capture_output=True, text=True, check=False, timeout=60)
        assert up.returncode != 0
        [line] = up.stderr.strip().splitlines()
        assert f"the postgres user, which the local PostgreSQL runs as, cannot enter {private} (mode 700)" in line
        assert f"`chmod o+x {private}`" in line and "--stack-dir" in line
        assert not (root / "postgres").exists(), "nothing was started"
    finally:
        shutil.rmtree(private, ignore_errors=True)
