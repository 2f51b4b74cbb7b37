"""A gap a later recomputation cleared (late data or a backfill filled it) is no silence in the marts.

Two pumps with the same two-hour gap row; pump-1's was cleared by the quality run, pump-2's is
current. Only equipment_availability (and what it feeds) is built, over one day.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from tds_platform.db.urls import libpq_url
from tds_platform.defs.dbt.project import dbt_project
from tds_platform.defs.dbt.resource import platform_dbt

DAY = datetime(2026, 3, 1, tzinfo=UTC)
GAP = (DAY + timedelta(hours=2), DAY + timedelta(hours=4))

SETUP = """
INSERT INTO tds.equipment (tenant, equipment, site, first_seen)
VALUES ('acme', 'pump-1', 'plant', %(day)s), ('acme', 'pump-2', 'plant', %(day)s);
INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s, first_seen)
VALUES ('acme', 'pump-1', 'flow', 600, %(day)s), ('acme', 'pump-2', 'flow', 600, %(day)s);
INSERT INTO tds.gaps (tenant, equipment, metric, gap_start, gap_end, duration_s, cleared_at)
VALUES ('acme', 'pump-1', 'flow', %(start)s, %(end)s, 7200, %(end)s + interval '1 day'),
       ('acme', 'pump-2', 'flow', %(start)s, %(end)s, 7200, NULL);
"""


@pytest.fixture(scope="module")
def availability(new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    url = new_database("dbt_cleared")
    with psycopg.connect(libpq_url(url)) as conn:
        for statement in filter(str.strip, SETUP.split(";")):
            conn.execute(statement, {"day": DAY, "start": GAP[0], "end": GAP[1]})
    window = json.dumps({"start": DAY.isoformat(), "end": (DAY + timedelta(days=1)).isoformat()})
    target: Path = tmp_path_factory.mktemp("dbt-cleared")
    invocation = platform_dbt(dbt_project, url).cli(
        ["build", "--select", "equipment_availability", "--vars", window], target_path=target)
    invocation.wait()
    results = invocation.get_artifact("run_results.json")["results"]
    assert all(r["status"] in ("success", "pass") for r in results), results
    with psycopg.connect(libpq_url(url), row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM analytics.equipment_availability").fetchall()
    return {r["equipment"]: r for r in rows}


def test_a_cleared_gap_counts_for_nothing(availability: dict[str, dict]) -> None:
    pump = availability["pump-1"]
    assert (pump["gap_minutes"], pump["silent_minutes"], pump["gap_count"]) == (0, 0, 0)
    assert pump["uptime_pct"] == 100


def test_a_current_gap_still_counts(availability: dict[str, dict]) -> None:
    pump = availability["pump-2"]
    assert (pump["gap_minutes"], pump["silent_minutes"], pump["gap_count"]) == (120, 120, 1)
    assert pump["uptime_pct"] == pytest.approx(100 * (1440 - 120) / 1440)
