"""The one autocommit connection each coordination object (the lease, the member registry) runs its statements on.

Opened on first use and again after it broke: a coordination call that fails raises, and the next one
reconnects, so a database outage never leaves a dead connection behind. Never holds a transaction open.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg


class StatementConnection:
    def __init__(self, url: str, connect_timeout_s: int = 5) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection | None = None

    def execute(self, query: str, params: Mapping[str, object]) -> list[tuple[object, ...]]:
        """The rows `query` returned (none for a statement without RETURNING); psycopg.Error when it failed."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s)
        try:
            cur = self._conn.execute(query, params)
            return cur.fetchall() if cur.description else []
        except psycopg.OperationalError:
            self._conn.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
