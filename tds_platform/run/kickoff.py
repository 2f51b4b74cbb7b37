"""The first runs of `tds up`: roll up and judge the simulator's history at once, not at the next tick.

It only submits runs to the Dagster instance's queue through the UI's GraphQL API (the daemon
executes them, the UI shows them); it never computes rollups or quality itself.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import psycopg
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from tds_platform.defs.partitions import range_tags
from tds_platform.defs.quality.schedules import closed_hours
from tds_platform.defs.rollups.schedules import recent_days, recent_hours
from tds_platform.quality.settings import QualitySettings
from tds_platform.rollups.settings import RollupSettings
from tds_platform.settings import PlatformSettings

FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
LIVE_DATA = "SELECT coalesce(max(last_seen) > now() - interval '1 minute', false) FROM tds.equipment"


def first_runs(now: datetime, rollups: RollupSettings, quality: QualitySettings) -> list[tuple[str, dict[str, str]]]:
    """(job, partition-range tags): the same windows the schedules will keep refreshing. Intervals
    first: its hourly schedule would otherwise leave every quality run until then inferring each
    series' interval inline (correct, several times slower). The daily rollups too, whose schedule
    runs every 30 minutes."""
    return [("series_intervals_job", {}), ("refresh_rollups", range_tags(recent_hours(now, rollups))),
            ("quality_hourly_job", range_tags(closed_hours(now, quality.trailing_hours))),
            ("refresh_daily_rollups", range_tags(recent_days(now, rollups)))]


def marts_run(now: datetime, rollups: RollupSettings) -> tuple[str, dict[str, str]]:
    """Every mart of the recent days in one run, once the first runs are done: the marts then show
    the history at once instead of at the marts schedule's next tick."""
    return "refresh_marts", range_tags(recent_days(now, rollups))


def wait_for_live_data(url: str, timeout_s: float) -> bool:
    """The simulator publishes its history first: live readings mean the history has landed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                if conn.execute(LIVE_DATA).fetchone()[0]:
                    return True
        except psycopg.Error:
            pass
        time.sleep(2)
    return False


def submit(client: DagsterGraphQLClient, job: str, tags: dict[str, str], timeout_s: float) -> str:
    """Queue one run through the webserver, which has the code location loaded: `dagster job launch`
    loaded it again for every run, ~60 s each on a busy 2-core machine. Waits for the webserver."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.submit_job_execution(job, tags=tags)
        except DagsterGraphQLClientError:  # not up yet, or its code location still loading
            if time.monotonic() >= deadline:
                raise
            time.sleep(2)


def wait_for_runs(client: DagsterGraphQLClient, run_ids: list[str], timeout_s: float) -> None:
    """Until every run ended (succeeded or not: the marts are built from whatever exists)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(client.get_run_status(run_id) in FINISHED for run_id in run_ids):
            return
        time.sleep(5)


def main(ui_port: int) -> int:
    rollups, quality = RollupSettings(), QualitySettings()  # the environment Dagster's schedules read too
    wait_for_live_data(PlatformSettings().resolved_database_url(), timeout_s=180)
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui_port)
    runs = first_runs(datetime.now(UTC), rollups, quality)
    run_ids = [submit(client, job, tags, timeout_s=300) for job, tags in runs]
    wait_for_runs(client, run_ids, timeout_s=900)
    submit(client, *marts_run(datetime.now(UTC), rollups), timeout_s=60)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
