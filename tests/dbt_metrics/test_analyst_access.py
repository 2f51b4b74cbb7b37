"""Analyst logins read their own tenant's marts and nothing else: not another tenant, not tds.*."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import psycopg.sql
import pytest
from click.testing import CliRunner

from tds_platform.cli.main import cli
from tests.servers import with_password

MARTS = ("equipment_hourly", "equipment_daily", "equipment_availability", "data_quality_scorecard",
         "site_daily_kpis")


@dataclass(frozen=True)
class Analyst:
    login: str
    url: str


@pytest.fixture(scope="module")
def analysts(fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Analyst]]:
    """One analyst per tenant, created by an administrator through `tds analysts create`; roles are
    cluster-wide, so dropped after."""
    suffix = uuid.uuid4().hex[:8]
    logins = {"acme": f"ann_acme_{suffix}", "globex": f"ann_globex_{suffix}"}
    password_file = tmp_path_factory.mktemp("analyst") / "password"
    password_file.write_text("correct horse battery\n")
    create = ["analysts", "create", "--database-url", fleet.admin_url]
    result = CliRunner().invoke(cli, [*create, "--tenant", "acme", "--name", logins["acme"],
                                      "--password-file", str(password_file)])
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output
    result = CliRunner().invoke(cli, [*create, "--tenant", "globex", "--name", logins["globex"]])
    assert result.exit_code == 0, result.output
    generated = result.output.split("password (shown once): ", 1)[1].split()[0]
    passwords = {"acme": "correct horse battery", "globex": generated}
    yield {tenant: Analyst(login, with_password(fleet.url, login, passwords[tenant]))
           for tenant, login in logins.items()}
    _drop_roles(fleet, [*logins.values()])


def _drop_roles(fleet, roles: list[str]) -> None:
    with psycopg.connect(fleet.admin_url, autocommit=True) as conn:
        for role in roles:
            conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(role)))


def test_the_platform_login_may_not_create_analysts_and_is_told_who_may(fleet):
    result = CliRunner().invoke(cli, ["analysts", "create", "--database-url", fleet.url, "--tenant", "acme",
                                      "--name", f"never_{uuid.uuid4().hex[:8]}"])
    assert result.exit_code != 0
    assert "administrator" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("mart", MARTS)
def test_an_analyst_sees_only_its_tenant(fleet, analysts, mart):
    everything = fleet.query(f"SELECT tenant, count(*) AS n FROM analytics.{mart} GROUP BY tenant")
    per_tenant = {r["tenant"]: r["n"] for r in everything}
    assert set(per_tenant) == {"acme", "globex"}
    for tenant, analyst in analysts.items():
        seen = fleet.query(f"SELECT tenant, count(*) AS n FROM analytics.{mart} GROUP BY tenant", url=analyst.url)
        assert seen == [{"tenant": tenant, "n": per_tenant[tenant]}]


@pytest.mark.parametrize("table", ["tds.telemetry", "tds.telemetry_raw", "tds.metric_spec", "tds.equipment",
                                   "tds.quality_hourly", "tds.telemetry_1h"])
def test_an_analyst_cannot_read_the_platform_schema(fleet, analysts, table):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        fleet.query(f"SELECT count(*) FROM {table}", url=analysts["acme"].url)


def test_an_analyst_cannot_change_the_marts(fleet, analysts):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        fleet.query("DELETE FROM analytics.equipment_daily", url=analysts["acme"].url)


def test_an_analyst_sees_only_its_own_mapping(fleet, analysts):
    rows = fleet.query("SELECT login, tenant FROM analytics.analyst_tenants", url=analysts["globex"].url)
    assert rows == [{"login": analysts["globex"].login, "tenant": "globex"}]


def test_a_login_without_a_tenant_sees_no_rows(fleet, analysts):
    login = f"unmapped_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fleet.admin_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'unmapped-pw' IN ROLE tds_analyst").format(
            psycopg.sql.Identifier(login)))
    try:
        unmapped = with_password(fleet.url, login, "unmapped-pw")
        assert fleet.query("SELECT count(*) AS n FROM analytics.equipment_daily", url=unmapped) == [{"n": 0}]
    finally:
        _drop_roles(fleet, [login])


def test_the_password_is_stored_as_a_scram_hash(fleet, analysts):
    rows = fleet.query("SELECT rolpassword FROM pg_authid WHERE rolname = %(r)s", {"r": analysts["acme"].login},
                       url=fleet.admin_url)
    assert rows[0]["rolpassword"].startswith("SCRAM-SHA-256$")


def test_creating_an_existing_login_says_so_in_one_sentence(fleet, analysts):
    result = CliRunner().invoke(cli, ["analysts", "create", "--database-url", fleet.admin_url,
                                      "--tenant", "acme", "--name", analysts["acme"].login])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert "Traceback" not in result.output


def test_a_short_password_file_is_refused(fleet, tmp_path: Path):
    short = tmp_path / "pw"
    short.write_text("abc\n")
    result = CliRunner().invoke(cli, ["analysts", "create", "--database-url", fleet.admin_url, "--tenant", "acme",
                                      "--name", "never_created", "--password-file", str(short)])
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output


def test_list_shows_each_analyst_and_tenant(fleet, analysts):
    result = CliRunner().invoke(cli, ["analysts", "list", "--database-url", fleet.url])
    assert result.exit_code == 0, result.output
    assert f"{analysts['acme'].login}\tacme" in result.output
    assert f"{analysts['globex'].login}\tglobex" in result.output
