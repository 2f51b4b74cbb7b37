"""Quality tracking: gaps keep their series, their clearing and their backfill outcome.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

`tds.gaps` rows are tracked across runs by (series, gap_start): the quality run upserts what it
sees and marks `cleared_at` when a recomputation no longer finds a silence (late data or a
backfill landed inside it). The backfill job records its request and outcome in the
`backfill_*` columns; `backfill_status` is limited to the states that job can reach.
`tds.quality_hourly.expected` becomes nullable: with no registered interval and fewer than two
readings in the last 24 h the expected count is unknown, and an invented number would lie.
"""

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE tds.quality_hourly
    ALTER COLUMN expected DROP NOT NULL,
    ADD COLUMN expected_interval_s double precision;
COMMENT ON COLUMN tds.quality_hourly.expected_interval_s IS
    'Interval the hour was judged by: metric_spec.expected_interval_s, else the median spacing of the last 24 h.';

ALTER TABLE tds.gaps
    ADD COLUMN series_id             integer,
    ADD COLUMN cleared_at            timestamptz,
    ADD COLUMN backfill_cmd_id       text,
    ADD COLUMN backfill_from         timestamptz,
    ADD COLUMN backfill_to           timestamptz,
    ADD COLUMN backfill_requested_at timestamptz,
    ADD COLUMN backfill_finished_at  timestamptz,
    ADD COLUMN backfill_detail       text,
    ADD CONSTRAINT gaps_backfill_status_check
        CHECK (backfill_status IN ('none', 'requested', 'filled', 'partially_filled', 'unfillable'));
UPDATE tds.gaps g SET series_id = s.series_id
FROM tds.metric_spec s
WHERE s.tenant = g.tenant AND s.equipment = g.equipment AND s.metric = g.metric;
CREATE INDEX gaps_series_idx ON tds.gaps (series_id, gap_start);
COMMENT ON COLUMN tds.gaps.cleared_at IS
    'When a recomputation no longer found this silence (late data or a backfill landed in it); NULL = current.';
COMMENT ON COLUMN tds.gaps.backfill_status IS
    'none | requested | filled | partially_filled | unfillable — written by the gap backfill job.';
"""

DOWNGRADE = """
DROP INDEX IF EXISTS tds.gaps_series_idx;
ALTER TABLE tds.gaps
    DROP CONSTRAINT IF EXISTS gaps_backfill_status_check,
    DROP COLUMN IF EXISTS backfill_detail,
    DROP COLUMN IF EXISTS backfill_finished_at,
    DROP COLUMN IF EXISTS backfill_requested_at,
    DROP COLUMN IF EXISTS backfill_to,
    DROP COLUMN IF EXISTS backfill_from,
    DROP COLUMN IF EXISTS backfill_cmd_id,
    DROP COLUMN IF EXISTS cleared_at,
    DROP COLUMN IF EXISTS series_id;
DELETE FROM tds.quality_hourly WHERE expected IS NULL;
ALTER TABLE tds.quality_hourly
    DROP COLUMN IF EXISTS expected_interval_s,
    ALTER COLUMN expected SET NOT NULL;
"""


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text(DOWNGRADE))
