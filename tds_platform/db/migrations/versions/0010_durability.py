"""Durability: one dead letter per bad message however often it is redelivered; late landings recorded.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

A message is redelivered whenever its acknowledgement did not reach the broker (a writer killed after
its commit, a session drained by a survivor, a broker restart), and the writer wrote its dead letter
again each time. MQTT gives a message no identity that survives redelivery (packet ids are per
connection and reused), so the key is what the row keeps: SHA-256 of topic, reason, detail and the
kept bytes (computed by the writer, `DeadLetter.key`). Two byte-identical bad messages a device sent on
purpose are one row too: a replay of either lands the same readings. Rows written before this revision
have no key (NULLs never conflict), so nothing existing is touched.

Readings that land older than the rollup refreshes' trailing window (a DLQ replay, a device's late
buffer, a gap backfill's resend) were left out of the rollups, quality and marts. The writer now
records the hours they touched per tenant in `tds.stale_windows`, in the batch's own transaction
(one row per tenant and hour of the batch; appended, never upserted, so two write connections never
wait for each other); the `late_landings` sensor turns them into refreshes and deletes the rows it
reported.
"""

from alembic import op
from sqlalchemy import text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE tds.dlq ADD COLUMN message_key bytea;
CREATE UNIQUE INDEX dlq_message_key_idx ON tds.dlq (message_key);
COMMENT ON COLUMN tds.dlq.message_key IS
    'SHA-256 of topic, reason, detail and payload: one row per bad message however often it is delivered.';
-- ON CONFLICT (message_key) reads the key; the writer still sees no other column of the dead letters.
GRANT SELECT (message_key) ON tds.dlq TO tds_writer;

CREATE TABLE tds.stale_windows (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant    text NOT NULL,
    bucket    timestamptz NOT NULL,
    landed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tds.stale_windows IS
    'Hours (bucket = the hour''s start) where readings landed after the rollup refreshes stopped rewriting them; '
    'the late_landings sensor requests their refresh and deletes the rows it reported.';
-- Append-only for the writer: an upsert of the same (tenant, hour) by both write connections during a
-- backlog of old readings would make each wait for the other's commit.
GRANT INSERT ON tds.stale_windows TO tds_writer;
-- The DLQ replay lands through the writer's store under the platform's login, so it records them too.
GRANT SELECT, INSERT, DELETE ON tds.stale_windows TO tds_platform;
"""

DOWNGRADE = """
DROP TABLE IF EXISTS tds.stale_windows;
REVOKE SELECT (message_key) ON tds.dlq FROM tds_writer;
DROP INDEX IF EXISTS tds.dlq_message_key_idx;
ALTER TABLE tds.dlq DROP COLUMN IF EXISTS message_key;
"""


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text(DOWNGRADE))
