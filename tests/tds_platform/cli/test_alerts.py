"""`tds alerts` against a real database: open alerts first, recent ones after, clear errors."""

import psycopg
from click.testing import CliRunner

from tds_platform.alerting.model import Alert, Severity
from tds_platform.alerting.store import AlertStore
from tds_platform.cli.main import cli
from tds_platform.db.engine import engine_for


def alert(key: str, severity: Severity = Severity.WARNING) -> Alert:
    return Alert(kind="freshness", severity=severity, dedup_key=key, subject=f"{key} is silent", message="quiet")


def test_lists_open_alerts_first_then_recently_resolved(database_url: str) -> None:
    store = AlertStore(engine_for(database_url))
    store.open(alert("resolved-one"))
    store.resolve("resolved-one")
    store.open(alert("open-one", Severity.CRITICAL))
    result = CliRunner().invoke(cli, ["alerts", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("OPEN      critical") and "open-one is silent — quiet" in lines[1]
    assert lines[2].startswith("resolved  warning") and "resolved-one is silent" in lines[2]
    assert lines[-1] == "1 open, 1 resolved (last 24 h)"


def test_quiet_database_says_so(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["alerts", "--database-url", database_url, "--hours", "2"])
    assert result.exit_code == 0
    assert result.output.strip() == "no open alerts, none in the last 2 h"


def test_unmigrated_database_is_one_clear_sentence(stack) -> None:
    with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "alerts_empty"')
        conn.execute('CREATE DATABASE "alerts_empty" OWNER tds_owner')
    result = CliRunner().invoke(cli, ["alerts", "--database-url", stack.postgres.url("alerts_empty")])
    assert result.exit_code == 1
    assert "run `tds db upgrade` first" in result.output
    assert "Traceback" not in result.output
