"""What the migrations need of the login that runs them, checked before they change anything.

The rollups belong to `tds_platform` (Dagster's group: TimescaleDB refreshes and drops chunks only
for an owner), and PostgreSQL lets a login create or give objects as a role only if it belongs to it.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

REQUIRE_MEMBERSHIP = text("""
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'tds_platform', 'MEMBER') THEN
        RAISE EXCEPTION 'the migrating login "%" must be a member of tds_platform, which owns the rollups', current_user
            USING HINT = 'run deploy/postgres/initdb/10-tds-logins.sh as the superuser (docker compose runs it as '
                         'the db-roles service on every start), then migrate again';
    END IF;
END
$$
""")


def require_platform_membership(conn: Connection) -> None:
    conn.execute(REQUIRE_MEMBERSHIP)
