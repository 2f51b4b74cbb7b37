"""The storm `make up` showed, reproduced: many devices went silent at once with their history
buffered, most of them never answer a resend, and a real Dagster daemon runs everything with the
repository's dagster.yaml (queued run coordinator, PostgreSQL storage, its run-queue policy).
The rollups and quality of the current hour and the marts of the current day still materialize
within a bound while the repairs proceed, the refreshes of repaired windows are not held back, and
no run waits for a device."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from tds_platform.defs.backfill.refresh import STAGE_TAG
from tds_platform.run.supervisor import Service, Supervisor
from tds_platform.stack import LocalStack
from tds_platform.stack.layout import free_port
from tests.tds_platform.backfill.conftest import BackfillRig

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EQUIPMENT, ANSWERING = 30, 6  # the first ANSWERING devices resend what they buffered; the rest never answer
METRICS = ("corrente", "pressao", "running", "temp_agua_entrada", "temp_agua_saida")
INTERVAL = timedelta(minutes=1)
# From the first runs' submission (what `tds up` does once the history landed) to the current
# hour's rollups and quality and the current day's marts: the README promises five minutes.
BOUND_S = 300
MARTS = ("equipment_hourly", "equipment_daily", "equipment_availability", "data_quality_scorecard",
         "site_daily_kpis")


@dataclass(frozen=True)
class Fleet:
    """Readings every minute since two hours before the current hour began, every device silent for
    the same ten minutes forty minutes ago."""

    now: datetime

    @property
    def readings(self) -> list[datetime]:
        """Every reading each device took (and holds in its buffer), silence included."""
        start = self.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        return [start + k * INTERVAL for k in range(int((self.now - start) / INTERVAL) + 1)]

    @property
    def silence(self) -> tuple[datetime, datetime]:
        """(last reading before, first reading after) the silence: what the quality run finds too."""
        return self.readings[-52], self.readings[-41]


def seed(rig: BackfillRig, fleet: Fleet) -> None:
    """The registry, every reading but the silence, and the gaps the quality run would have found."""
    before, after = fleet.silence
    landed = [ts for ts in fleet.readings if not before < ts < after]
    with psycopg.connect(rig.url) as conn:
        for n in range(EQUIPMENT):
            equipment = f"ch-{n:02d}"
            conn.execute("INSERT INTO tds.equipment (tenant, equipment, site, first_seen, last_seen) "
                         "VALUES (%s, %s, %s, %s, now())", (rig.tenant, equipment, rig.site, fleet.readings[0]))
            for metric in METRICS:
                series_id = conn.execute(
                    "INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s, first_seen) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING series_id",
                    (rig.tenant, equipment, metric, INTERVAL.total_seconds(), fleet.readings[0])).fetchone()[0]
                with conn.cursor().copy("COPY tds.telemetry_raw (series_id, ts, value) FROM STDIN") as copy:
                    for ts in landed:
                        copy.write_row((series_id, ts, 20.0))
                conn.execute("INSERT INTO tds.gaps (tenant, equipment, metric, series_id, gap_start, gap_end, "
                             "duration_s) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                             (rig.tenant, equipment, metric, series_id, before, after,
                              (after - before).total_seconds()))


@pytest.fixture
def dagster_home(stack: LocalStack, tmp_path: Path) -> tuple[Path, str]:
    """DAGSTER_HOME with the repository's dagster.yaml, and a storage database of its own."""
    name = f"dagster_storm_{tmp_path.name[-12:].replace('-', '_')}"
    with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" OWNER tds_dagster')  # as the logins script makes `dagster`
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(REPO / "dagster.yaml")
    return home, stack.postgres.url(name).replace("postgresql://", "postgresql+psycopg2://")


@pytest.fixture
def orchestration(rig: BackfillRig, dagster_home: tuple[Path, str], tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Supervisor, int, dict[str, str]]]:
    """`dagster dev` as `tds up` runs it (UI, daemon: schedules, sensors, run queue, automation) over the
    rig's database; its UI port."""
    home, storage = dagster_home
    env = {"DAGSTER_HOME": str(home), "TDS_DAGSTER_DATABASE_URL": storage, "TDS_DATABASE_URL": rig.url,
           "TDS_MQTT_URL": rig.stack.platform_mqtt_url()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    supervisor, ui_port = Supervisor(tmp_path / "run"), free_port()
    supervisor.start(Service("dagster", [str(BIN / "dagster"), "dev", "-w", str(REPO / "workspace.yaml"),
                                         "-h", "127.0.0.1", "-p", str(ui_port)], env))
    try:
        yield supervisor, ui_port, env
    finally:
        supervisor.stop_all()


def materialized(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None, since: float) -> bool:
    records_filter = dg.AssetRecordsFilter(key, asset_partitions=[partition] if partition else None,
                                           after_timestamp=since)
    return bool(instance.fetch_materializations(records_filter, limit=1).records)


def due(now: datetime) -> dict[dg.AssetKey, str | None]:
    """What must be current: this hour's rollups, the last closed hour's quality and gaps, today's marts."""
    hour, day = now.strftime("%Y-%m-%d-%H:00"), now.strftime("%Y-%m-%d")
    closed = (now - timedelta(hours=1)).strftime("%Y-%m-%d-%H:00")
    return {dg.AssetKey("telemetry_1m"): hour, dg.AssetKey("telemetry_1h"): hour,
            dg.AssetKey("quality_hourly"): closed, dg.AssetKey("gaps"): None,
            **{dg.AssetKey(["analytics", mart]): day for mart in MARTS}}


def runs_by_job(instance: dg.DagsterInstance) -> dict[str, int]:
    return dict(sorted(Counter(f"{run.job_name} {run.status.value}" for run in instance.get_runs()).items()))


def timeline(instance: dg.DagsterInstance, since: float) -> str:
    """Every run as `created +s, started +s, ended +s: job [assets] status`, seconds after `since`."""
    def at(moment: float | None) -> str:
        return "-" if moment is None else f"{moment - since:+.0f}"

    lines = []
    for record in sorted(instance.get_run_records(), key=lambda record: record.create_timestamp):
        run = record.dagster_run
        assets = ",".join(key.to_user_string() for key in sorted(run.asset_selection or ())) or "-"
        lines.append(f"{at(record.create_timestamp.timestamp())} {at(record.start_time)} {at(record.end_time)}: "
                     f"{run.job_name} [{assets}] {run.status.value}")
    return "\n".join(lines)


def still_due(instance: dg.DagsterInstance, assets: dict[dg.AssetKey, str | None], since: float) -> list[str]:
    """What has not happened yet: assets not materialized, and no refresh of a repaired window done."""
    missing = [f"{key.to_user_string()} {partition or ''}".strip() for key, partition in assets.items()
               if not materialized(instance, key, partition, since)]
    refreshed = instance.get_run_records(dg.RunsFilter(tags={STAGE_TAG: "1"}, statuses=[dg.DagsterRunStatus.SUCCESS]),
                                         limit=1)
    return missing + ([] if refreshed else ["a refresh of a repaired window"])


@pytest.mark.timeout(900)
def test_rollups_quality_and_marts_stay_current_while_silent_devices_are_repaired(
        rig: BackfillRig, orchestration: tuple[Supervisor, int, dict[str, str]]) -> None:
    supervisor, ui_port, env = orchestration
    fleet = Fleet(datetime.now(UTC))
    seed(rig, fleet)
    rig.start_writer()
    for n in range(EQUIPMENT):
        rig.device("done" if n < ANSWERING else "silent", equipment=f"ch-{n:02d}", metrics=METRICS,
                   memory=fleet.readings)

    rig.query("UPDATE tds.equipment SET last_seen = now() RETURNING 1")  # live, as `tds up` waits for
    started, since = datetime.now(UTC), time.time()
    supervisor.start(Service("kickoff", [sys.executable, "-m", "tds_platform.run.kickoff", str(ui_port)], env))
    with dg.DagsterInstance.get() as instance:
        pending = still_due(instance, due(started), since)
        while pending and time.time() - since < BOUND_S:
            time.sleep(5)
            pending = still_due(instance, due(started), since)
        took, runs = time.time() - since, runs_by_job(instance)
        print(f"after {took:.0f} s: {runs}\n{timeline(instance, since)}")
        assert not pending, f"not done within {BOUND_S} s: {pending}; runs (created, started, ended):\n" + \
            timeline(instance, since)

        [(waiting,)] = rig.query("SELECT count(*) FROM tds.backfill_commands WHERE judged_at IS NULL")
        [(unrepaired,)] = rig.query("SELECT count(*) FROM tds.gaps WHERE backfill_status IN ('none', 'requested')")
        assert waiting + unrepaired > 0, "the bound was met while repairs were still proceeding"
        repairs = instance.get_run_records(dg.RunsFilter(job_name="gap_backfill",
                                                         statuses=[dg.DagsterRunStatus.SUCCESS]))
        longest = max(record.end_time - record.start_time for record in repairs)
        assert longest < 60, f"a gap_backfill run took {longest:.0f} s: it waited for a device"
        refreshes = instance.get_run_records(dg.RunsFilter(tags={STAGE_TAG: "1"}))
        queued = max((record.start_time or time.time()) - record.create_timestamp.timestamp() for record in refreshes)
        assert queued < 120, f"a refresh of a repaired window waited {queued:.0f} s in the queue"
    with psycopg.connect(rig.url) as conn:
        for mart in MARTS:
            [(rows,)] = conn.execute(f"SELECT count(*) FROM analytics.{mart}").fetchall()
            assert rows > 0, f"analytics.{mart} is empty"
