"""Remembered intervals: the median spacing the quality run inferred for each series, and as of when.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Inferring a series' interval (no `expected_interval_s`: the stream writer registers series that
way) takes the median spacing of its last 24 h, which means reading every one of those readings:
for 2,500 series at 10 s that is 21.6M rows and ~8 s, more than the whole hourly quality budget.
The quality run keeps the median it computed here with the end of the 24 h it covers, and reuses
it for windows ending close to that moment; the freshness watch can read it too.
"""

from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE tds.metric_spec
    ADD COLUMN inferred_interval_s double precision CHECK (inferred_interval_s > 0),
    ADD COLUMN inferred_until      timestamptz;
COMMENT ON COLUMN tds.metric_spec.inferred_interval_s IS
    'Median spacing of the 24 h before inferred_until, kept by the quality run; used when expected_interval_s is NULL.';
COMMENT ON COLUMN tds.metric_spec.inferred_until IS
    'End of the 24 h of readings inferred_interval_s is the median spacing of.';
"""

DOWNGRADE = """
ALTER TABLE tds.metric_spec
    DROP COLUMN IF EXISTS inferred_until,
    DROP COLUMN IF EXISTS inferred_interval_s;
"""


def upgrade() -> None:
    op.execute(text(UPGRADE))


def downgrade() -> None:
    op.execute(text(DOWNGRADE))
