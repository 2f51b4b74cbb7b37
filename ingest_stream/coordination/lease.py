"""One active writer elected through a lease row in PostgreSQL, for brokers without shared subscriptions.

The lease has a TTL and a fencing token: every batch commit re-checks, inside its transaction,
that this instance still holds the token, so a paused old leader can never write after losing it.
"""

from __future__ import annotations

import psycopg

from ingest_stream.coordination.connection import StatementConnection

ENSURE = "INSERT INTO tds.ingest_lease (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING"

ACQUIRE = """
UPDATE tds.ingest_lease
SET holder = %(holder)s, token = token + 1, expires_at = now() + make_interval(secs => %(ttl)s)
WHERE name = %(name)s AND (holder IS NULL OR holder = %(holder)s OR expires_at < now())
RETURNING token
"""

RENEW = """
UPDATE tds.ingest_lease SET expires_at = now() + make_interval(secs => %(ttl)s)
WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s AND expires_at > now()
RETURNING token
"""

# FOR SHARE: a competing ACQUIRE (an UPDATE) waits for our commit, so fencing and takeover serialise.
FENCE = """
SELECT 1 FROM tds.ingest_lease
WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s AND expires_at > now()
FOR SHARE
"""

RELEASE = """
UPDATE tds.ingest_lease SET expires_at = '-infinity' WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s
"""


class LeaseLostError(Exception):
    """This instance no longer holds the lease: nothing it has not committed may be written."""


class Lease:
    """The receiver acquires, renews and releases it; the worker's copy only follows the receiver's token and
    fences its commits with it."""

    def __init__(self, url: str, name: str, holder: str, ttl_s: float) -> None:
        self.params: dict[str, object] = {"name": name, "holder": holder, "ttl": ttl_s, "token": None}
        self._connection = StatementConnection(url)

    @property
    def token(self) -> int | None:
        return self.params["token"]  # type: ignore[return-value]

    def _execute(self, query: str) -> list[tuple[object, ...]]:
        return self._connection.execute(query, self.params)

    def acquire(self) -> bool:
        self._execute(ENSURE)
        rows = self._execute(ACQUIRE)
        self.params["token"] = rows[0][0] if rows else None
        return bool(rows)

    def renew(self) -> bool:
        if self.token is None:
            return False
        if not self._execute(RENEW):
            self.params["token"] = None
            return False
        return True

    def follow(self, token: int | None) -> None:
        """The worker's copy fences with the token its parent holds; it never acquires or renews by itself."""
        self.params["token"] = token

    def fence(self, conn: psycopg.Connection) -> None:
        """Runs inside the batch transaction: raises LeaseLostError if this instance is no longer leader."""
        if self.token is None or conn.execute(FENCE, self.params).fetchone() is None:
            raise LeaseLostError("the lease moved to another instance; this batch is not written")

    def release(self) -> None:
        if self.token is not None:
            self._execute(RELEASE)
            self.params["token"] = None

    def close(self) -> None:
        self._connection.close()
