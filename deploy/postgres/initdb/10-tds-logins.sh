#!/bin/sh
# Logins for the services, run once by the timescaledb image on an empty volume (after the image's
# own script created the extension). No service gets the superuser; passwords come from the environment.
#
# tds_owner   owns database `tds` and runs the migrations (`migrate` service)
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

# Values travel as psql variables (:'name' quotes a literal, :"name" an identifier), never
# pasted into the SQL text by the shell.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_db="$POSTGRES_DB" \
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

CREATE ROLE tds_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE tds_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'ingest_password' IN ROLE tds_writer;
CREATE ROLE tds_dagster LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'dagster_password' IN ROLE tds_platform;
CREATE ROLE tds_grafana LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'grafana_password' IN ROLE tds_dashboards;

-- The migration checks shared_preload_libraries to see whether TimescaleDB can be used; only
-- superusers and this predefined role may read that setting.
GRANT pg_read_all_settings TO tds_owner;
ALTER DATABASE :"app_db" OWNER TO tds_owner;

CREATE DATABASE dagster OWNER tds_dagster;

-- Grafana gets nothing here: the migrations grant tds_dashboards the views its dashboards read.
SQL
