"""Foundation schema: landing tables, registry, rollups, quality, alerts and roles.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Readings are stored narrow (`tds.telemetry_raw`: ts, series_id, value...) with the text
attributes in the registry (`tds.metric_spec` owns series_id): 107k rows/s were measured for this
layout against 58k with text columns in the unique key (ARCHITECTURE.md#storage-layout).
`tds.telemetry` is the view users query, with the contract's columns. Rollups are continuous
aggregates on the full TimescaleDB edition and plain tables elsewhere, under the same names, owned
by Dagster's group `tds_platform` (revision 0006 explains why and brings databases made before that over).
"""

from alembic import op
from sqlalchemy import text

from tds_platform.db.edition import detect_edition, timescaledb_available
from tds_platform.db.privileges import require_platform_membership

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = """
CREATE SCHEMA IF NOT EXISTS tds;
CREATE SCHEMA IF NOT EXISTS analytics;
"""

REGISTRY = """
CREATE TABLE tds.equipment (
    tenant      text NOT NULL,
    equipment   text NOT NULL,
    site        text,
    description text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz,
    meta        jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant, equipment)
);
COMMENT ON TABLE tds.equipment IS 'Registry of equipment; rows appear on first sight and can be edited.';

CREATE TABLE tds.metric_spec (
    tenant              text NOT NULL,
    equipment           text NOT NULL,
    metric              text NOT NULL,
    series_id           integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    unit                text,
    expected_interval_s double precision CHECK (expected_interval_s > 0),
    valid_min           double precision,
    valid_max           double precision,
    first_seen          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, equipment, metric),
    FOREIGN KEY (tenant, equipment) REFERENCES tds.equipment (tenant, equipment),
    CHECK (valid_min IS NULL OR valid_max IS NULL OR valid_min <= valid_max)
);
COMMENT ON TABLE tds.metric_spec IS
    'One row per series (tenant, equipment, metric). NULL interval/range = unknown: inferred / no range check.';
"""

RAW = """
CREATE TABLE tds.telemetry_raw (
    series_id   integer NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision,
    value_text  text,
    quality     smallint NOT NULL DEFAULT 0 CHECK (quality IN (0, 1, 2)),
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (series_id, ts)
);
COMMENT ON TABLE tds.telemetry_raw IS 'Storage behind tds.telemetry; query the view.';
"""

TELEMETRY_VIEW = """
CREATE VIEW tds.telemetry AS
SELECT r.ts, s.tenant, e.site, s.equipment, s.metric, r.value, r.value_text, s.unit,
       r.quality, r.ingested_at
FROM tds.telemetry_raw r
JOIN tds.metric_spec s ON s.series_id = r.series_id
JOIN tds.equipment e ON e.tenant = s.tenant AND e.equipment = s.equipment;
COMMENT ON VIEW tds.telemetry IS
    'One row per reading and (tenant, equipment, metric, ts). quality: 0 good, 1 uncertain, 2 bad.';
"""

LANDING = """
CREATE TABLE tds.dlq (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    topic         text NOT NULL,
    payload       bytea NOT NULL,
    reason        text NOT NULL,
    detail        text,
    instance      text,
    replayed_at   timestamptz,
    replay_result text
);
CREATE INDEX dlq_received_at_idx ON tds.dlq (received_at);
CREATE INDEX dlq_pending_idx ON tds.dlq (id) WHERE replayed_at IS NULL;

CREATE TABLE tds.events (
    ts          timestamptz NOT NULL,
    tenant      text NOT NULL,
    site        text,
    equipment   text NOT NULL,
    type        text NOT NULL,
    severity    text,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, equipment, type, ts)
);

CREATE TABLE tds.cmd_ack (
    tenant      text NOT NULL,
    equipment   text NOT NULL,
    cmd_id      text NOT NULL,
    status      text NOT NULL,
    detail      text,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, equipment, cmd_id)
);
"""

ROLLUP_TABLE = """
CREATE TABLE tds.{name}_data (
    series_id integer NOT NULL,
    bucket    timestamptz NOT NULL,
    n         bigint NOT NULL,
    min       double precision,
    max       double precision,
    avg       double precision,
    sum       double precision,
    first     double precision,
    last      double precision,
    PRIMARY KEY (series_id, bucket)
);
"""

# Full edition: hierarchical continuous aggregates. avg is sum/n at every level so the numbers
# equal the rollup-table path exactly.
CAGG_1M = """
CREATE MATERIALIZED VIEW tds.telemetry_1m_data
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT series_id, time_bucket(INTERVAL '1 minute', ts) AS bucket,
       count(value) AS n, min(value) AS min, max(value) AS max,
       sum(value) / count(value) AS avg, sum(value) AS sum,
       first(value, ts) AS first, last(value, ts) AS last
FROM tds.telemetry_raw
WHERE value IS NOT NULL
GROUP BY series_id, time_bucket(INTERVAL '1 minute', ts)
WITH NO DATA;
"""

CAGG_UP = """
CREATE MATERIALIZED VIEW tds.{name}_data
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT series_id, time_bucket(INTERVAL '{width}', bucket) AS bucket,
       sum(n)::bigint AS n, min(min) AS min, max(max) AS max,
       sum(sum) / sum(n) AS avg, sum(sum) AS sum,
       first(first, bucket) AS first, last(last, bucket) AS last
FROM tds.{source}_data
GROUP BY series_id, time_bucket(INTERVAL '{width}', bucket)
WITH NO DATA;
"""

ROLLUP_VIEW = """
CREATE VIEW tds.{name} AS
SELECT d.bucket, s.tenant, e.site, s.equipment, s.metric,
       d.n, d.min, d.max, d.avg, d.sum, d.first, d.last
FROM tds.{name}_data d
JOIN tds.metric_spec s ON s.series_id = d.series_id
JOIN tds.equipment e ON e.tenant = s.tenant AND e.equipment = s.equipment;
"""

# name, bucket width, source level (fixed allow-list: never user input)
ROLLUPS = (("telemetry_1m", "1 minute", None), ("telemetry_1h", "1 hour", "telemetry_1m"),
           ("telemetry_1d", "1 day", "telemetry_1h"))

QUALITY = """
CREATE TABLE tds.quality_hourly (
    hour          timestamptz NOT NULL,
    tenant        text NOT NULL,
    site          text,
    equipment     text NOT NULL,
    metric        text NOT NULL,
    expected      double precision NOT NULL,
    received      integer NOT NULL,
    good          integer NOT NULL,
    coverage_pct  double precision,
    good_pct      double precision,
    gap_count     integer NOT NULL DEFAULT 0,
    longest_gap_s double precision,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, equipment, metric, hour)
);
CREATE INDEX quality_hourly_hour_idx ON tds.quality_hourly (hour);

CREATE TABLE tds.gaps (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant          text NOT NULL,
    equipment       text NOT NULL,
    metric          text NOT NULL,
    gap_start       timestamptz NOT NULL,
    gap_end         timestamptz,
    duration_s      double precision,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    backfill_status text NOT NULL DEFAULT 'none',
    UNIQUE (tenant, equipment, metric, gap_start)
);
CREATE INDEX gaps_open_idx ON tds.gaps (tenant, equipment) WHERE gap_end IS NULL;

CREATE TABLE tds.alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    dedup_key    text NOT NULL,
    subject      text NOT NULL,
    message      text NOT NULL,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- One open alert per incident: a second open row for the same key is impossible.
CREATE UNIQUE INDEX alerts_one_open_idx ON tds.alerts (dedup_key) WHERE resolved_at IS NULL;
"""

ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tds_writer') THEN
        CREATE ROLE tds_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tds_analyst') THEN
        CREATE ROLE tds_analyst NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tds_platform') THEN
        CREATE ROLE tds_platform NOLOGIN;
    END IF;
END
$$;

-- The stream writer: insert into landing tables, upsert the registry, nothing else.
GRANT USAGE ON SCHEMA tds TO tds_writer;
GRANT INSERT ON tds.telemetry_raw, tds.dlq, tds.events TO tds_writer;
-- ON CONFLICT (key) needs to read the key columns: only those, never the values.
GRANT SELECT (series_id, ts) ON tds.telemetry_raw TO tds_writer;
GRANT SELECT (tenant, equipment, type, ts) ON tds.events TO tds_writer;
GRANT SELECT, INSERT, UPDATE ON tds.cmd_ack, tds.equipment, tds.metric_spec TO tds_writer;

-- Dagster and the CLI: everything over the landed data, no DDL on other schemas.
GRANT USAGE, CREATE ON SCHEMA tds, analytics TO tds_platform;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA tds TO tds_platform;
ALTER DEFAULT PRIVILEGES IN SCHEMA tds GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tds_platform;

-- Analysts read the curated marts only: never tds.*.
REVOKE ALL ON SCHEMA tds FROM PUBLIC;
GRANT USAGE ON SCHEMA analytics TO tds_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO tds_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO tds_analyst;
"""


def _run(sql: str) -> None:
    op.execute(text(sql))


def _create_rollup_storage(continuous: bool) -> None:
    """As tds_platform, Dagster's group: TimescaleDB refreshes a continuous aggregate and drops its
    chunks only for its owner, and only a superuser could hand one over later (its internal parts
    live in TimescaleDB's own schema). A continuous aggregate puts its invalidation trigger on the
    raw table, which takes TRIGGER there: granted for the creation only."""
    if continuous:
        _run("GRANT TRIGGER ON tds.telemetry_raw TO tds_platform")
    _run("SET LOCAL ROLE tds_platform")
    for name, width, source in ROLLUPS:
        if continuous:
            _run(CAGG_1M if source is None else CAGG_UP.format(name=name, width=width, source=source))
        else:
            _run(ROLLUP_TABLE.format(name=name))
            _run(f"CREATE INDEX {name}_bucket_idx ON tds.{name}_data (bucket)")
    _run("RESET ROLE")
    if continuous:
        _run("REVOKE TRIGGER ON tds.telemetry_raw FROM tds_platform")
    for name, _width, _source in ROLLUPS:
        _run(ROLLUP_VIEW.format(name=name))


def upgrade() -> None:
    conn = op.get_bind()
    _run(SCHEMAS)
    if timescaledb_available(conn):
        _run("CREATE EXTENSION IF NOT EXISTS timescaledb")
    edition = detect_edition(conn)
    _run(REGISTRY)
    _run(RAW)
    if edition.has_hypertables:
        _run("SELECT create_hypertable('tds.telemetry_raw', 'ts', chunk_time_interval => INTERVAL '1 day')")
    else:
        _run("CREATE INDEX telemetry_raw_ts_brin ON tds.telemetry_raw USING brin (ts)")
    _run(TELEMETRY_VIEW)
    _run(LANDING)
    # Before the rollups: tds_platform creates them and reads the raw table through these grants.
    _run(ROLES)
    require_platform_membership(conn)
    _create_rollup_storage(edition.has_continuous_aggregates)
    _run(QUALITY)


def downgrade() -> None:
    _run("DROP SCHEMA IF EXISTS analytics CASCADE")
    _run("DROP SCHEMA IF EXISTS tds CASCADE")
