"""Compressed readings: on the full TimescaleDB edition, `tds.telemetry_raw` is set up for
compression and Dagster's `apply_retention` job compresses its chunks past the late-data window
through `tds.compress_settled_chunks`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

Segmented by series and ordered by time, so a series' readings of a day become a few column
batches (the README's benchmark table has the bytes per reading before and after). Why a Dagster
job and not TimescaleDB's compression policy: the policy's background job compressed a fresh
database's past-dated chunks a moment after it was created (seen on `tds bench quality`'s day of
2026-01-01, and it would do the same to test data dated in the past), so what a run reads would
depend on when the database's scheduler woke; Dagster runs it once a day, visibly, like
retention, on the same lane. `compress_chunk` checks ownership, and the readings stay the owner's:
the function is `SECURITY DEFINER` as the owner, for the readings only, as `tds.drop_expired_chunks`.
Readings still land in a compressed chunk (TimescaleDB writes them beside its compressed batches
and checks the primary key against both), so late readings, gap resends and DLQ replays keep
landing exactly once; retention's `drop_chunks` and `DELETE` work on compressed chunks too.

The Apache edition and plain PostgreSQL have no compression: there this revision only says so.
"""

import logging

from alembic import op
from sqlalchemy import TextClause, text

from tds_platform.db.edition import detect_edition

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

TIMESCALEDB_SCHEMA = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'timescaledb'"

# {timescaledb}: the extension's schema, from the catalog. Runs as the owner, search_path pinned as
# every SECURITY DEFINER function must. Compresses at most max_chunks, oldest first, so a caller can
# commit after each (a first run over a month of history must not hold every chunk's lock to the
# end). Returns the chunks it compressed; compressed ones are left alone, including the few late
# readings landed in one since (kept beside its compressed batches).
COMPRESS_SETTLED_CHUNKS = """
CREATE FUNCTION tds.compress_settled_chunks(older_than timestamptz, max_chunks integer)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    settled regclass;
BEGIN
    FOR settled IN
        SELECT c FROM {timescaledb}.show_chunks('tds.telemetry_raw', older_than => older_than) AS c
        JOIN timescaledb_information.chunks i
          ON (quote_ident(i.chunk_schema) || '.' || quote_ident(i.chunk_name))::regclass = c
        WHERE NOT i.is_compressed
        ORDER BY i.range_start
        LIMIT max_chunks
    LOOP
        PERFORM {timescaledb}.compress_chunk(settled, if_not_compressed => true);
        RETURN NEXT settled::text;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION tds.compress_settled_chunks(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tds.compress_settled_chunks(timestamptz, integer) TO tds_platform;
COMMENT ON FUNCTION tds.compress_settled_chunks(timestamptz, integer) IS
    'Compress the chunks of the readings wholly older than older_than, as their owner; returns those compressed.';
"""

UPGRADE = (
    text("""ALTER TABLE tds.telemetry_raw SET (timescaledb.compress,
                                                timescaledb.compress_segmentby = 'series_id',
                                                timescaledb.compress_orderby = 'ts')"""),
)

DOWNGRADE = (
    text("DROP FUNCTION IF EXISTS tds.compress_settled_chunks(timestamptz, integer)"),
    text("SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks('tds.telemetry_raw') c"),
    text("ALTER TABLE tds.telemetry_raw SET (timescaledb.compress = false)"),
)


def _compression_available() -> bool:
    edition = detect_edition(op.get_bind())
    if not edition.has_compression:
        log.info("0011: TimescaleDB compression is not available on this edition (%s): readings stay "
                 "uncompressed, nothing to change", edition.value)
    return edition.has_compression


def _run(statements: tuple[TextClause, ...]) -> None:
    for statement in statements:
        op.get_bind().execute(statement)


def upgrade() -> None:
    if not _compression_available():
        return
    _run(UPGRADE)
    schema = op.get_bind().execute(text(TIMESCALEDB_SCHEMA)).scalar_one()
    op.get_bind().execute(text(COMPRESS_SETTLED_CHUNKS.replace("{timescaledb}", schema)))


def downgrade() -> None:
    if _compression_available():
        _run(DOWNGRADE)
