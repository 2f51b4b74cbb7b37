#!/bin/sh
# The service logins and what each may do, applied as the superuser. Idempotent: the timescaledb image
# runs it once on an empty volume, compose's `db-roles` service runs it again on every start (so an
# existing deployment gets what a new release adds, and a password changed in .env takes effect),
# and the local stack and the test suite run this same file. No service gets the superuser.
#
# tds_owner   owns database `tds` and runs the migrations (`migrate` service); a member of
#             tds_platform so it can hand Dagster the rollups it refreshes (migration 0006)
# tds_ingest  the stream writers: member of tds_writer (insert and upsert, never delete)
# tds_dagster Dagster, dbt and the CLI: member of tds_platform; owns Dagster's own database
# tds_grafana dashboards: member of tds_dashboards, which reads the `dashboards` views only (quality,
#             gaps, alerts, freshness; never readings or dead-letter payloads)
# Analyst logins are made later with `tds analysts` (role tds_analyst, one tenant each).
set -eu

: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}"
: "${TDS_DB_OWNER_PASSWORD:?set it in .env}"
: "${TDS_DB_INGEST_PASSWORD:?set it in .env}"
: "${TDS_DB_DAGSTER_PASSWORD:?set it in .env}"
: "${TDS_DB_GRAFANA_PASSWORD:?set it in .env}"
DAGSTER_DB=${TDS_DAGSTER_DB:-dagster}

# Values travel as psql variables (:'name' quotes a literal, :"name" an identifier), never
# pasted into the SQL text by the shell.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_db="$POSTGRES_DB" \
    -v dagster_db="$DAGSTER_DB" \
    -v owner_password="$TDS_DB_OWNER_PASSWORD" \
    -v ingest_password="$TDS_DB_INGEST_PASSWORD" \
    -v dagster_password="$TDS_DB_DAGSTER_PASSWORD" \
    -v grafana_password="$TDS_DB_GRAFANA_PASSWORD" <<'SQL'
-- The group roles the migrations grant to, created first so logins can join them before the
-- first migration runs (the migration's own CREATE ROLE is IF NOT EXISTS).
SELECT format('CREATE ROLE %I NOLOGIN', name)
FROM unnest(ARRAY['tds_writer', 'tds_platform', 'tds_analyst', 'tds_dashboards']) AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec

SELECT format('CREATE ROLE %I LOGIN', name)
FROM unnest(ARRAY['tds_owner', 'tds_ingest', 'tds_dagster', 'tds_grafana']) AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec

-- Every run states the whole truth again: no login is privileged, each has its .env password.
ALTER ROLE tds_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE tds_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'ingest_password';
ALTER ROLE tds_dagster LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'dagster_password';
ALTER ROLE tds_grafana LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'grafana_password';

GRANT tds_writer TO tds_ingest;
GRANT tds_platform TO tds_dagster;
GRANT tds_dashboards TO tds_grafana;
-- The owner creates the rollups and gives them to tds_platform: refresh_continuous_aggregate and
-- drop_chunks accept only the owner, and Dagster must run both. PostgreSQL lets a role give an
-- object only to a role it belongs to.
GRANT tds_platform TO tds_owner;

-- The migration checks shared_preload_libraries to see whether TimescaleDB can be used; only
-- superusers and this predefined role may read that setting.
GRANT pg_read_all_settings TO tds_owner;
ALTER DATABASE :"app_db" OWNER TO tds_owner;

SELECT format('CREATE DATABASE %I OWNER tds_dagster', :'dagster_db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dagster_db')
\gexec

-- Grafana gets nothing here: the migrations grant tds_dashboards the views its dashboards read.

-- Rollups made before revision 0006 belong to tds_owner. Only a superuser can give a continuous
-- aggregate to tds_platform (its internal parts live in TimescaleDB's own schema), so it happens
-- here, before the migrations run; revision 0006 checks that it did.
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') AS has_timescaledb \gset
\if :has_timescaledb
SELECT format('ALTER MATERIALIZED VIEW %I.%I OWNER TO tds_platform', view_schema, view_name)
FROM timescaledb_information.continuous_aggregates
WHERE view_schema = 'tds' AND view_owner <> 'tds_platform'
\gexec
\endif
SQL
