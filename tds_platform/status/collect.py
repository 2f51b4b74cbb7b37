"""Gathers the platform's state for `tds status`: broker, writers, database, data health per tenant
(freshness, 24 h coverage and good %, worst equipment, open gaps, open alerts), alert delivery, DLQ.

The data-health figures come from the `dashboards` views, the same ones Grafana reads.

Read-only and tolerant: a component that is down is reported as down, never raised.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ingest_stream.logs import first_line
from tds_platform.db import migrate
from tds_platform.db.edition import detect_edition
from tds_platform.db.engine import engine_for

WRITERS = text("""
SELECT mqtt_group, instance_id, state, health_url, extract(epoch FROM now() - heartbeat_at) AS heartbeat_age_s,
       drained_by
FROM tds.ingest_members WHERE state <> 'retired' OR retired_at > now() - interval '1 day'
ORDER BY mqtt_group, instance_id
""")

TENANT_HEALTH = text("""
SELECT f.tenant, f.equipment, f.newest, f.age_s, q.coverage_pct, q.good_pct, q.worst_equipment,
       q.worst_coverage_pct, coalesce(g.open_gaps, 0) AS open_gaps, coalesce(a.open_alerts, 0) AS open_alerts
FROM (SELECT tenant, count(*) AS equipment, max(last_seen) AS newest,
             extract(epoch FROM now() - max(last_seen)) AS age_s
      FROM dashboards.equipment_freshness GROUP BY tenant) f
LEFT JOIN dashboards.tenant_quality_24h q USING (tenant)
LEFT JOIN (SELECT tenant, count(*) AS open_gaps FROM dashboards.open_gaps GROUP BY tenant) g USING (tenant)
LEFT JOIN (SELECT tenant, count(*) AS open_alerts FROM dashboards.open_alerts GROUP BY tenant) a USING (tenant)
ORDER BY f.tenant
""")

OPEN_GAPS = text("""
SELECT tenant, equipment, metric, gap_start, open_for_s, backfill_status FROM dashboards.open_gaps
ORDER BY gap_start LIMIT :limit
""")

OPEN_ALERTS = text("""
SELECT severity, kind, tenant, subject, opened_at, revision FROM dashboards.open_alerts
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, opened_at
""")

ALERT_DELIVERY = text("""
SELECT sink, pending, oldest_pending, delivered, failed_attempts, last_error FROM dashboards.alert_delivery
ORDER BY sink
""")

DLQ_GROWTH = text("""
SELECT count(*) FILTER (WHERE received_at > now() - interval '1 hour') AS last_hour,
       count(*) FILTER (WHERE received_at > now() - interval '1 day') AS last_day,
       count(*) FILTER (WHERE replayed_at IS NULL) AS pending
FROM tds.dlq
""")

DLQ_REASONS = text("""
SELECT reason, count(*) FROM tds.dlq WHERE received_at > now() - interval '1 day' GROUP BY reason ORDER BY 2 DESC
""")

MAX_GAPS_LISTED = 20

LAST_QUALITY = text("SELECT max(computed_at), max(hour) FROM tds.quality_hourly")


@dataclass
class WriterState:
    group: str
    instance: str
    state: str
    heartbeat_age_s: float | None
    drained_by: str | None
    health: dict[str, Any] | None = None
    health_error: str | None = None


@dataclass
class PlatformStatus:
    broker: dict[str, Any] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)
    writers: list[WriterState] = field(default_factory=list)
    tenants: list[dict[str, Any]] = field(default_factory=list)
    open_gaps: list[dict[str, Any]] = field(default_factory=list)
    open_alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_delivery: list[dict[str, Any]] = field(default_factory=list)
    dlq: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(asdict(self), default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
                          indent=2)

    @property
    def healthy(self) -> bool:
        writers_ok = any(w.health and w.health.get("status") == "ok" for w in self.writers)
        return bool(self.broker.get("reachable") and self.database.get("reachable") and writers_ok)


def broker_state(mqtt_url: str) -> dict[str, Any]:
    parts = urlsplit(mqtt_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        with socket.create_connection((host, port), timeout=2):
            return {"address": f"{host}:{port}", "reachable": True}
    except OSError as exc:
        return {"address": f"{host}:{port}", "reachable": False, "error": exc.strerror or str(exc)}


def writer_health(url: str | None) -> tuple[dict[str, Any] | None, str | None]:
    if not url:
        return None, "no health URL recorded"
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return json.loads(response.read()), None
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}"), None
    except (OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))


def collect(database_url: str, mqtt_url: str) -> PlatformStatus:
    status = PlatformStatus(broker=broker_state(mqtt_url))
    try:
        with engine_for(database_url).connect() as conn:
            status.database = {"reachable": True, "edition": detect_edition(conn).value,
                               "revision": migrate.current(database_url), "head": migrate.head()}
            for row in conn.execute(WRITERS).mappings():
                health, error = writer_health(row["health_url"])
                status.writers.append(WriterState(row["mqtt_group"], row["instance_id"], row["state"],
                                                  row["heartbeat_age_s"], row["drained_by"], health, error))
            status.tenants = [dict(r) for r in conn.execute(TENANT_HEALTH).mappings()]
            status.open_gaps = [dict(r) for r in conn.execute(OPEN_GAPS, {"limit": MAX_GAPS_LISTED}).mappings()]
            status.open_alerts = [dict(r) for r in conn.execute(OPEN_ALERTS).mappings()]
            status.alert_delivery = [dict(r) for r in conn.execute(ALERT_DELIVERY).mappings()]
            status.dlq = dict(conn.execute(DLQ_GROWTH).mappings().one())
            status.dlq["reasons_last_day"] = {r[0]: r[1] for r in conn.execute(DLQ_REASONS)}
            computed_at, hour = conn.execute(LAST_QUALITY).one()
            status.quality = {"last_computed_at": computed_at, "newest_hour": hour}
    except DBAPIError as exc:
        reason = first_line(exc.orig or exc)
        status.database = {**status.database, "reachable": status.database.get("reachable", False), "error": reason}
    except SQLAlchemyError as exc:
        status.database = {**status.database, "reachable": False, "error": first_line(exc)}
    return status
