"""Stream-writer identity and registry quotas: an unguessable key for MQTT client ids, recent registrations by tenant.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

A writer's MQTT client id is the key to its broker session and queue: a device that connected with
the predictable `tds-ingest-<group>-<instance>` took an offline writer's session (its queue was lost)
or kicked a live one off. Writers now add a MAC of (group, instance) under a random key kept here,
which only the platform's own logins can read; the id stays the same across restarts and password
rotations (a changed id would orphan the old session, and with it what the broker queued for it).

The writer refuses new equipment and series beyond a per-tenant hourly quota; the indexes let it count
what a tenant registered in the last hour without reading all of the tenant's rows.
"""

from alembic import op
from sqlalchemy import text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tds.ingest_identity (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    client_id_key text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '')
);
COMMENT ON TABLE tds.ingest_identity IS
    'Key the stream writers derive their MQTT client ids from: stable across restarts, unguessable from outside.';
INSERT INTO tds.ingest_identity DEFAULT VALUES;
GRANT SELECT ON tds.ingest_identity TO tds_writer;

CREATE INDEX equipment_tenant_first_seen_idx ON tds.equipment (tenant, first_seen);
CREATE INDEX metric_spec_tenant_first_seen_idx ON tds.metric_spec (tenant, first_seen);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS tds.metric_spec_tenant_first_seen_idx;
DROP INDEX IF EXISTS tds.equipment_tenant_first_seen_idx;
DROP TABLE IF EXISTS tds.ingest_identity;
"""


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text(DOWNGRADE))
