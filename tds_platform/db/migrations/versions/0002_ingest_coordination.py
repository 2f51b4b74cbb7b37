"""Stream-writer coordination: group members with heartbeats, and the single-leader lease.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Mosquitto never hands a dead member's share of a shared subscription to the survivors, so
survivors must find dead members (stale heartbeat) and drain their sessions; `ingest_members`
is where they meet. `ingest_lease` elects one active writer for brokers without shared
subscriptions; its token fences a paused old leader out of the database.
"""

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tds.ingest_members (
    mqtt_group   text NOT NULL,
    instance_id  text NOT NULL,
    client_id    text NOT NULL,
    hostname     text,
    pid          integer,
    health_url   text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'stopped', 'retired')),
    drained_by   text,
    drain_until  timestamptz,
    retired_at   timestamptz,
    PRIMARY KEY (mqtt_group, instance_id)
);
COMMENT ON TABLE tds.ingest_members IS
    'Stream writers of each shared-subscription group; a stale heartbeat means its session is drained by a survivor.';

CREATE TABLE tds.ingest_lease (
    name       text PRIMARY KEY,
    holder     text,
    token      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
COMMENT ON TABLE tds.ingest_lease IS 'Single active writer election (coordination = lease); token fences old leaders.';

GRANT SELECT, INSERT, UPDATE ON tds.ingest_members, tds.ingest_lease TO tds_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON tds.ingest_members, tds.ingest_lease TO tds_platform;
"""


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text("DROP TABLE IF EXISTS tds.ingest_lease; DROP TABLE IF EXISTS tds.ingest_members"))
