"""Analyst access to the dbt marts: one login per analyst, mapped to one tenant, row-level security.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The marts themselves are created by dbt, which (re)applies their policies in a post-hook
(dbt_metrics/macros/analyst_access.sql); this revision adds what those policies call. Nothing here
depends on TimescaleDB, so it is the same on every edition.
"""

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Which tenant each analyst login may see. In `analytics` so an analyst can read its own row
# ("which tenant am I?") and nothing else; the policy keys on current_user, so SET ROLE works too.
ANALYST_TENANTS = """
CREATE TABLE analytics.analyst_tenants (
    login      name PRIMARY KEY,
    tenant     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE analytics.analyst_tenants IS
    'Analyst login -> the one tenant its row-level security policies let it see. Managed by `tds analysts`.';
ALTER TABLE analytics.analyst_tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mapping ON analytics.analyst_tenants FOR SELECT TO tds_analyst
    USING (login = current_user);
CREATE POLICY platform_reads_all ON analytics.analyst_tenants FOR SELECT TO tds_platform USING (true);
GRANT SELECT ON analytics.analyst_tenants TO tds_analyst, tds_platform;
"""

# SECURITY INVOKER on purpose: it runs as the querying analyst, so current_user is the analyst and
# the mapping table's own policy limits it to the analyst's row. NULL (no mapping) matches no row.
CURRENT_TENANT = """
CREATE FUNCTION analytics.current_tenant() RETURNS text
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = pg_catalog
AS $$ SELECT tenant FROM analytics.analyst_tenants WHERE login = current_user $$;
COMMENT ON FUNCTION analytics.current_tenant() IS 'The tenant the current analyst login may see (NULL: none).';
"""

# Creating a login is DDL, which cannot take bound parameters; this function quotes the name and
# the (already SCRAM-hashed) password with format(%I, %L) so callers pass plain bound values.
CREATE_ANALYST = """
CREATE FUNCTION tds.create_analyst(p_login text, p_tenant text, p_password_hash text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = p_login) THEN
        RAISE EXCEPTION 'a database role named "%" already exists', p_login USING ERRCODE = 'duplicate_object';
    END IF;
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE tds_analyst', p_login, p_password_hash);
    INSERT INTO analytics.analyst_tenants (login, tenant) VALUES (p_login, p_tenant);
END
$$;
REVOKE ALL ON FUNCTION tds.create_analyst(text, text, text) FROM PUBLIC;
"""

DOWNGRADE = """
DROP FUNCTION IF EXISTS tds.create_analyst(text, text, text);
DROP FUNCTION IF EXISTS analytics.current_tenant();
DROP TABLE IF EXISTS analytics.analyst_tenants;
"""


def _run(sql: str) -> None:
    op.execute(text(sql))


def upgrade() -> None:
    _run(ANALYST_TENANTS)
    _run(CURRENT_TENANT)
    _run(CREATE_ANALYST)


def downgrade() -> None:
    _run(DOWNGRADE)
