"""Backfill commands: every resend command sent to a device, waiting for its answer until judged.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A gap backfill used to publish its command and then poll for the device's answer inside its run,
holding a run slot for up to TDS_BACKFILL_ANSWER_TIMEOUT_S; seventeen such runs queued behind two
waiting ones kept the rollup, quality and mart runs from starting. Now the run only sends the
command and records it here; a sensor looks at the waiting commands, and when a device's answer
is complete (or overdue) judges each gap in `tds.gaps` as before and stamps `judged_at`.
A command sent for an operator's window has no gaps (`gap_ids` empty) but is followed the same way.
"""

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tds.backfill_commands (
    cmd_id          text PRIMARY KEY,
    tenant          text NOT NULL,
    equipment       text NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL CHECK (window_end > window_start),
    series_ids      integer[] NOT NULL,
    gap_ids         bigint[] NOT NULL DEFAULT '{}',
    readings_before bigint NOT NULL,
    requested_at    timestamptz NOT NULL,
    run_id          text,
    settling_since  timestamptz,
    readings_after  bigint NOT NULL,
    last_landing_at timestamptz,
    judged_at       timestamptz
);
CREATE INDEX backfill_commands_waiting_idx ON tds.backfill_commands (requested_at) WHERE judged_at IS NULL;
COMMENT ON TABLE tds.backfill_commands IS
    'Resend commands sent by gap_backfill runs; the backfill_answers sensor judges them once the device answered.';
COMMENT ON COLUMN tds.backfill_commands.run_id IS 'The Dagster run that sent the command (NULL outside Dagster).';
COMMENT ON COLUMN tds.backfill_commands.settling_since IS
    'When the final answer was seen (or the answer timeout passed): from then on only landing readings are awaited.';
COMMENT ON COLUMN tds.backfill_commands.readings_after IS
    'Readings of the requested series in the window at the last look; last_landing_at is when that count last grew.';
COMMENT ON COLUMN tds.backfill_commands.judged_at IS 'When every gap of the command got its outcome; NULL = waiting.';

GRANT SELECT, INSERT, UPDATE, DELETE ON tds.backfill_commands TO tds_platform;
"""

DOWNGRADE = "DROP TABLE IF EXISTS tds.backfill_commands"


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text(DOWNGRADE))
