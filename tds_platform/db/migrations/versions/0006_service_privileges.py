"""Service privileges that hold on every edition: Dagster owns the rollups it refreshes, and drops
expired chunks through one function the owner lends it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

TimescaleDB checks ownership, not grants: `refresh_continuous_aggregate` and `drop_chunks` accept
only the owner of the continuous aggregate or hypertable (seen in the shipped deployment:
`must be owner of view telemetry_1m_data`, `must be owner of hypertable "telemetry_raw"`).

- The rollup storage (`tds.telemetry_1m/1h/1d_data`: continuous aggregates or tables) belongs to
  `tds_platform`, Dagster's group: it is derived data only Dagster writes. A refresh cannot be
  wrapped in a SECURITY DEFINER function (it must run outside any transaction), so ownership it is.
  Revision 0001 now creates them that way; databases made before are brought over here. A table
  the owner can give away itself; a continuous aggregate only a superuser can (its internal parts
  live in TimescaleDB's schema, where tds_platform may not create), which the logins script does on
  every start of the compose deployment (the db-roles service) before this runs.
- The raw readings stay the owner's: Dagster drops their expired chunks through
  `tds.drop_expired_chunks`, which runs as the owner, only on the readings and the rollups, and
  only for chunks wholly older than the cutoff. Dagster could already DELETE those rows; the
  function adds nothing it could not do, only the cheap way of doing it. It reports the rows each
  chunk held, so retention reports the same numbers whether rows left by chunk or by DELETE.
- Dagster's login reads the schema's revision (`tds status` says when it is behind).
"""

from alembic import op
from sqlalchemy import text

from tds_platform.db.privileges import require_platform_membership

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RETENTION_RELATIONS = ("tds.telemetry_raw", "tds.telemetry_1m_data", "tds.telemetry_1h_data", "tds.telemetry_1d_data")

HAND_ROLLUPS_TO_PLATFORM = """
DO $$
DECLARE
    storage record;
BEGIN
    FOR storage IN
        SELECT c.oid::regclass AS relation, c.relkind
        FROM pg_class c
        WHERE c.oid IN ('tds.telemetry_1m_data'::regclass, 'tds.telemetry_1h_data'::regclass,
                        'tds.telemetry_1d_data'::regclass)
          AND c.relowner <> 'tds_platform'::regrole
    LOOP
        BEGIN
            EXECUTE format('ALTER %s %s OWNER TO tds_platform',
                           CASE storage.relkind WHEN 'v' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, storage.relation);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'only a superuser can give the continuous aggregate % to tds_platform', storage.relation
                USING HINT = 'run deploy/postgres/initdb/10-tds-logins.sh as the superuser (docker compose runs it '
                             'as the db-roles service on every start), then migrate again';
        END;
    END LOOP;
END
$$;
"""

# {timescaledb}: the extension's schema, from the catalog. Runs as the owner (search_path pinned, as
# every SECURITY DEFINER function must); the allow-list keeps it to the readings and the rollups.
DROP_EXPIRED_CHUNKS = """
CREATE FUNCTION tds.drop_expired_chunks(relation regclass, cutoff timestamptz)
RETURNS TABLE (chunk text, row_count bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expired regclass;
BEGIN
    IF relation::text <> ALL (ARRAY['{relations}']) THEN
        RAISE EXCEPTION 'retention drops chunks of the readings and the rollups only, not of %', relation
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR expired IN SELECT c FROM {timescaledb}.show_chunks(relation, older_than => cutoff) AS c LOOP
        chunk := expired::text;
        EXECUTE format('SELECT count(*) FROM %s', expired) INTO row_count;
        RETURN NEXT;
    END LOOP;
    PERFORM {timescaledb}.drop_chunks(relation, older_than => cutoff);
END
$$;
REVOKE ALL ON FUNCTION tds.drop_expired_chunks(regclass, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tds.drop_expired_chunks(regclass, timestamptz) TO tds_platform;
COMMENT ON FUNCTION tds.drop_expired_chunks(regclass, timestamptz) IS
    'Retention: drop the chunks of the readings or a rollup wholly older than cutoff, as their owner; rows per chunk.';
"""

TIMESCALEDB_SCHEMA = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'timescaledb'"


def _run(sql: str) -> None:
    op.execute(text(sql))


def upgrade() -> None:
    conn = op.get_bind()
    require_platform_membership(conn)
    _run(HAND_ROLLUPS_TO_PLATFORM)
    # `tds status` and `tds db current` tell whether the schema is behind the code.
    _run("GRANT SELECT ON public.alembic_version TO tds_platform")
    schema = conn.execute(text(TIMESCALEDB_SCHEMA)).scalar()
    if schema is not None:
        relations = "', '".join(RETENTION_RELATIONS)
        _run(DROP_EXPIRED_CHUNKS.replace("{timescaledb}", schema).replace("{relations}", relations))


def downgrade() -> None:
    # The rollups stay tds_platform's: revision 0001 makes them so on every database now.
    _run("DROP FUNCTION IF EXISTS tds.drop_expired_chunks(regclass, timestamptz)")
