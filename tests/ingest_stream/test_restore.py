"""A database restored from a backup under a running writer: every later reading is attributed.

The restore follows TimescaleDB's documented procedure (pg_dump; a new database with the extension,
timescaledb_pre_restore(), pg_restore, timescaledb_post_restore()), then takes the old database's
place (dropped with its sessions, the restored one renamed), as an operator swapping in a backup does.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tds_platform.stack.postgres import PG_BIN
from tests.ingest_stream.conftest import BASE_TS, IngestRig, Publisher
from tests.servers import admin_url

pytestmark = pytest.mark.slow


def _dump(url: str, path: Path) -> None:
    subprocess.run([str(PG_BIN / "pg_dump"), "-Fc", "-f", str(path), "-d", admin_url(url)], check=True,
                   capture_output=True, timeout=120)


def _restore_in_place_of(url: str, dump: Path) -> None:
    """The database at `url` replaced by the backup `dump`: its open sessions end, as in a real restore."""
    live = make_url(url).database
    assert live is not None
    restored = f"{live}_restored"
    server = admin_url(url).replace(f"/{live}?", "/postgres?")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER tds_owner").format(sql.Identifier(restored)))
    target = admin_url(url).replace(f"/{live}?", f"/{restored}?")
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute("SELECT timescaledb_pre_restore()")
    # pg_restore reports the extension's own objects as "already exists"; the data is what counts.
    subprocess.run([str(PG_BIN / "pg_restore"), "-d", target, str(dump)], capture_output=True, timeout=300,
                   check=False)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("SELECT timescaledb_post_restore()")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(live)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (restored,))
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(restored),
                                                                    sql.Identifier(live)))


def _publish(rig: IngestRig, pub: Publisher, equipment: str, count: int, hour: int) -> None:
    sent = rig.publish_readings(pub, count, equipment=equipment, start=BASE_TS + timedelta(hours=hour))
    assert len(pub.wait_acked(list(sent))) == count


def test_backup_restored_under_a_running_writer_leaves_no_reading_unattributed(rig: IngestRig,
                                                                              tmp_path: Path) -> None:
    writer = rig.writer("a").start().wait_ready()
    pub = rig.publisher()
    _publish(rig, pub, "ch-1", 50, hour=0)
    assert rig.wait_for_rows(50) == 50
    dump = tmp_path / "backup.dump"
    _dump(rig.database_url, dump)
    # Registered after the backup: the writer caches its series id, which the backup does not know.
    _publish(rig, pub, "ch-2", 50, hour=0)
    assert rig.wait_for_rows(100) == 100

    _restore_in_place_of(rig.database_url, dump)
    assert rig.reading_count() == 50  # the backup's readings

    # The restored registry re-issues the next series id: ch-3 now registers the id ch-2 had, and a
    # writer that kept its cache files ch-2's readings under ch-3.
    _publish(rig, pub, "ch-3", 50, hour=1)
    _publish(rig, pub, "ch-2", 50, hour=2)
    _publish(rig, pub, "ch-1", 50, hour=3)
    assert rig.wait_for_rows(200, timeout_s=60) == 200
    assert writer.alive
    orphans = rig.query("SELECT count(*) FROM tds.telemetry_raw r "
                        "WHERE NOT EXISTS (SELECT FROM tds.metric_spec s WHERE s.series_id = r.series_id)")
    assert orphans == [(0,)]
    per_equipment = dict(rig.query("SELECT equipment, count(*) FROM tds.telemetry WHERE tenant = %s "
                                   "GROUP BY equipment", rig.tenant))
    assert per_equipment == {"ch-1": 100, "ch-2": 50, "ch-3": 50}
