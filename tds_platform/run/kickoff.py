"""The first runs of `tds up`: roll up and judge the simulator's history at once, not at the next tick.

It only submits runs to the Dagster instance's queue through the UI's GraphQL API (the daemon
executes them, the UI shows them); it never computes rollups or quality itself.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from tds_platform.defs.partitions import daily_partitions_with_current, hourly_partitions_with_current
from tds_platform.defs.quality.schedules import closed_hours
from tds_platform.defs.rollups.schedules import range_tags, trailing_range
from tds_platform.defs.rollups.settings import RollupSettings
from tds_platform.quality.settings import QualitySettings
from tds_platform.settings import PlatformSettings

LIVE_DATA = "SELECT coalesce(max(last_seen) > now() - interval '1 minute', false) FROM tds.equipment"


def first_runs(now: datetime) -> list[tuple[str, dict[str, str]]]:
    """(job, partition-range tags): the same windows the schedules will keep refreshing. Intervals
    first: its hourly schedule would otherwise leave every quality run until then inferring each
    series' interval inline (correct, several times slower). The daily rollups too, whose schedule
    runs every 30 minutes: the marts' automation builds today's marts as soon as these succeeded."""
    rollups = RollupSettings()
    hours = trailing_range(hourly_partitions_with_current, timedelta(hours=1), now, rollups.trailing_hours)
    days = trailing_range(daily_partitions_with_current, timedelta(days=1), now, rollups.trailing_days)
    return [("series_intervals_job", {}), ("refresh_rollups", range_tags(hours)),
            ("quality_hourly_job", range_tags(closed_hours(now, QualitySettings().trailing_hours))),
            ("refresh_daily_rollups", range_tags(days))]


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


def main(ui_port: int) -> int:
    wait_for_live_data(PlatformSettings().resolved_database_url(), timeout_s=180)
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui_port)
    for job, tags in first_runs(datetime.now(UTC)):
        submit(client, job, tags, timeout_s=300)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
