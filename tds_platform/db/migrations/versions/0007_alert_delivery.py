"""Alerts that reach a person: per-series quality thresholds, alert revisions, a delivery outbox,
and read-only dashboard views for Grafana.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

- `tds.metric_spec` gets optional quality thresholds (`min_coverage_pct`, `min_good_pct`,
  `max_gap_s`); NULL means the global `TDS_QUALITY_*` default.
- `tds.alerts` gets `revision` (bumped when an open incident's severity or subject changes: that
  is an update worth telling people about) and `clear_since` (when its detector first saw it
  clear; it resolves only after staying clear for a hold, which damps flapping).
- `tds.alert_notifications` is the delivery outbox: one row per alert state and sink, written in
  the transaction that changed the alert, deleted never; the unique key makes "never sent twice
  for the same state" a database fact, and a sink that is down leaves its rows pending for retry.
- Schema `dashboards`: views over quality, gaps, alerts and freshness, without readings or
  dead-letter payloads, read by `tds status` (tds_platform) and by role `tds_dashboards` (the
  Grafana login is a member; the logins script makes both); a Grafana login that earlier got
  SELECT on every table the owner created loses it here and keeps only these views.
"""

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

THRESHOLDS = """
ALTER TABLE tds.metric_spec
    ADD COLUMN min_coverage_pct double precision CHECK (min_coverage_pct BETWEEN 0 AND 100),
    ADD COLUMN min_good_pct     double precision CHECK (min_good_pct BETWEEN 0 AND 100),
    ADD COLUMN max_gap_s        double precision CHECK (max_gap_s > 0);
COMMENT ON COLUMN tds.metric_spec.min_coverage_pct IS
    'Coverage below this (last judged hours) is a quality alert; NULL = TDS_QUALITY_MIN_COVERAGE_PCT.';
COMMENT ON COLUMN tds.metric_spec.min_good_pct IS
    'Good readings below this % (last judged hours) is a quality alert; NULL = TDS_QUALITY_MIN_GOOD_PCT.';
COMMENT ON COLUMN tds.metric_spec.max_gap_s IS
    'A running silence longer than this is a quality alert; NULL = TDS_QUALITY_MAX_GAP_S.';
"""

ALERTS = """
ALTER TABLE tds.alerts
    ADD COLUMN revision    integer NOT NULL DEFAULT 0,
    ADD COLUMN clear_since timestamptz;
COMMENT ON COLUMN tds.alerts.revision IS
    'How often the open incident changed severity or subject (each change is one update notification).';
COMMENT ON COLUMN tds.alerts.clear_since IS
    'When the detector first saw the incident clear; it resolves once clear for the hold (flapping damped).';

CREATE TABLE tds.alert_notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES tds.alerts (id) ON DELETE CASCADE,
    transition      text NOT NULL CHECK (transition IN ('opened', 'updated', 'resolved')),
    revision        integer NOT NULL,
    sink            text NOT NULL,
    alert           jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    UNIQUE (alert_id, transition, revision, sink)
);
CREATE INDEX alert_notifications_pending_idx ON tds.alert_notifications (next_attempt_at)
    WHERE delivered_at IS NULL;
COMMENT ON TABLE tds.alert_notifications IS
    'Delivery outbox: one row per alert state (transition, revision) and sink; `alert` is what the sink is told.';
"""

# Only a superuser can create the role: the logins script does, before every migration (compose's
# db-roles service, the local stack, the tests).
DASHBOARDS_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tds_dashboards') THEN
        RAISE EXCEPTION 'the role tds_dashboards, which Grafana reads the dashboards views through, does not exist'
            USING HINT = 'run deploy/postgres/initdb/10-tds-logins.sh as the superuser (docker compose runs it '
                         'as the db-roles service on every start), then migrate again';
    END IF;
END
$$;
"""

DASHBOARD_VIEWS = """
CREATE SCHEMA dashboards;
COMMENT ON SCHEMA dashboards IS
    'What dashboards (Grafana) and `tds status` read: health figures only, never readings or dead-letter payloads.';

CREATE VIEW dashboards.equipment_freshness AS
SELECT tenant, site, equipment, first_seen, last_seen FROM tds.equipment;

CREATE VIEW dashboards.quality_hourly AS
SELECT hour, tenant, site, equipment, metric, expected, received, good, coverage_pct, good_pct,
       gap_count, longest_gap_s, computed_at
FROM tds.quality_hourly;

-- The last 24 h per equipment: coverage counts only hours with a known expected count, each
-- capped at what was expected (as coverage_pct is); good % is event-weighted (good / received).
CREATE VIEW dashboards.equipment_quality_24h AS
SELECT tenant, equipment, max(site) AS site,
       100 * sum(least(received, expected)) FILTER (WHERE expected > 0)
           / nullif(sum(expected) FILTER (WHERE expected > 0), 0) AS coverage_pct,
       100 * sum(good)::float8 / nullif(sum(received), 0) AS good_pct,
       sum(received)::bigint AS received,
       max(longest_gap_s) AS longest_gap_s
FROM tds.quality_hourly
WHERE hour >= now() - INTERVAL '24 hours'
GROUP BY tenant, equipment;

CREATE VIEW dashboards.tenant_quality_24h AS
SELECT q.tenant,
       100 * sum(least(q.received, q.expected)) FILTER (WHERE q.expected > 0)
           / nullif(sum(q.expected) FILTER (WHERE q.expected > 0), 0) AS coverage_pct,
       100 * sum(q.good)::float8 / nullif(sum(q.received), 0) AS good_pct,
       count(DISTINCT q.equipment) AS equipment,
       (SELECT w.equipment FROM dashboards.equipment_quality_24h w
        WHERE w.tenant = q.tenant AND w.coverage_pct IS NOT NULL
        ORDER BY w.coverage_pct, w.good_pct NULLS FIRST, w.equipment LIMIT 1) AS worst_equipment,
       (SELECT w.coverage_pct FROM dashboards.equipment_quality_24h w
        WHERE w.tenant = q.tenant AND w.coverage_pct IS NOT NULL
        ORDER BY w.coverage_pct, w.good_pct NULLS FIRST, w.equipment LIMIT 1) AS worst_coverage_pct
FROM tds.quality_hourly q
WHERE q.hour >= now() - INTERVAL '24 hours'
GROUP BY q.tenant;

CREATE VIEW dashboards.open_gaps AS
SELECT tenant, equipment, metric, gap_start, extract(epoch FROM now() - gap_start)::float8 AS open_for_s,
       backfill_status, detected_at
FROM tds.gaps
WHERE gap_end IS NULL AND cleared_at IS NULL;

CREATE VIEW dashboards.open_alerts AS
SELECT id, kind, severity, details ->> 'tenant' AS tenant, details ->> 'equipment' AS equipment,
       subject, message, opened_at, last_seen_at, revision
FROM tds.alerts
WHERE resolved_at IS NULL;

CREATE VIEW dashboards.alert_delivery AS
SELECT sink, count(*) FILTER (WHERE delivered_at IS NULL) AS pending,
       min(created_at) FILTER (WHERE delivered_at IS NULL) AS oldest_pending,
       count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
       sum(CASE WHEN delivered_at IS NULL THEN attempts ELSE attempts - 1 END) AS failed_attempts,
       (array_agg(last_error ORDER BY id DESC) FILTER (WHERE delivered_at IS NULL AND last_error IS NOT NULL))[1]
           AS last_error
FROM tds.alert_notifications
GROUP BY sink;

"""

# Who reads the views: the CLI/Dagster group and Grafana's group.
DASHBOARD_READERS = """
GRANT USAGE ON SCHEMA dashboards TO tds_platform, tds_dashboards;
GRANT SELECT ON ALL TABLES IN SCHEMA dashboards TO tds_platform, tds_dashboards;
ALTER DEFAULT PRIVILEGES IN SCHEMA dashboards GRANT SELECT ON TABLES TO tds_platform, tds_dashboards;
"""

# Deployments made before this revision let the Grafana login read every table the owner created
# (deploy/postgres/initdb used default privileges). Take that back, and stop it for new tables.
GRAFANA_NARROWED = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'tds_grafana') THEN
        REVOKE ALL ON ALL TABLES IN SCHEMA tds, analytics FROM tds_grafana;
        REVOKE ALL ON SCHEMA tds, analytics FROM tds_grafana;
        ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM tds_grafana;
        ALTER DEFAULT PRIVILEGES REVOKE USAGE ON SCHEMAS FROM tds_grafana;
    END IF;
END
$$;
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS dashboards CASCADE;
DROP TABLE IF EXISTS tds.alert_notifications;
ALTER TABLE tds.alerts DROP COLUMN IF EXISTS clear_since, DROP COLUMN IF EXISTS revision;
ALTER TABLE tds.metric_spec
    DROP COLUMN IF EXISTS max_gap_s,
    DROP COLUMN IF EXISTS min_good_pct,
    DROP COLUMN IF EXISTS min_coverage_pct;
"""


def _run(sql: str) -> None:
    op.execute(text(sql))


def upgrade() -> None:
    _run(THRESHOLDS)
    _run(ALERTS)
    _run(DASHBOARDS_ROLE)
    _run(DASHBOARD_VIEWS)
    _run(DASHBOARD_READERS)
    _run(GRAFANA_NARROWED)


def downgrade() -> None:
    _run(DOWNGRADE)
