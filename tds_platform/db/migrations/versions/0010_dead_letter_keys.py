"""Dead letters keyed by the message they keep: a redelivered bad message is one row, not one per delivery.

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
"""

DOWNGRADE = """
REVOKE SELECT (message_key) ON tds.dlq FROM tds_writer;
DROP INDEX IF EXISTS tds.dlq_message_key_idx;
ALTER TABLE tds.dlq DROP COLUMN IF EXISTS message_key;
"""


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text(DOWNGRADE))
