"""Group membership in PostgreSQL: heartbeats, and claiming dead members' sessions to drain.

All time comparisons use the database clock, so hosts with skewed clocks agree on who is dead.
It only records and claims; connecting to a claimed session is the takeover module's job.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from ingest_stream.coordination.connection import StatementConnection

REGISTER = """
INSERT INTO tds.ingest_members (mqtt_group, instance_id, client_id, hostname, pid, health_url)
VALUES (%(group)s, %(instance)s, %(client_id)s, %(hostname)s, %(pid)s, %(health_url)s)
ON CONFLICT (mqtt_group, instance_id) DO UPDATE
SET client_id = EXCLUDED.client_id, hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
    health_url = EXCLUDED.health_url, started_at = now(),
    heartbeat_at = now(), state = 'running', drained_by = NULL, drain_until = NULL, retired_at = NULL
"""

HEARTBEAT = """
UPDATE tds.ingest_members SET heartbeat_at = now(), state = 'running'
WHERE mqtt_group = %(group)s AND instance_id = %(instance)s
"""

MARK_STOPPED = """
UPDATE tds.ingest_members SET state = 'stopped' WHERE mqtt_group = %(group)s AND instance_id = %(instance)s
"""

# Claim every stale member nobody else is draining (or whose drainer stopped renewing).
CLAIM_STALE = """
UPDATE tds.ingest_members
SET drained_by = %(instance)s, drain_until = now() + make_interval(secs => %(claim_s)s)
WHERE mqtt_group = %(group)s AND instance_id <> %(instance)s AND state <> 'retired'
  AND heartbeat_at < now() - make_interval(secs => %(stale_s)s)
  AND (drained_by IS NULL OR drained_by = %(instance)s OR drain_until < now())
RETURNING instance_id, client_id
"""

RENEW_CLAIM = """
UPDATE tds.ingest_members SET drain_until = now() + make_interval(secs => %(claim_s)s)
WHERE mqtt_group = %(group)s AND instance_id = %(member)s AND drained_by = %(instance)s
  AND heartbeat_at < now() - make_interval(secs => %(stale_s)s)
RETURNING instance_id
"""

RELEASE_CLAIM = """
UPDATE tds.ingest_members SET drained_by = NULL, drain_until = NULL
WHERE mqtt_group = %(group)s AND instance_id = %(member)s AND drained_by = %(instance)s
"""

RETIRE = """
UPDATE tds.ingest_members SET state = 'retired', retired_at = now(), drained_by = NULL, drain_until = NULL
WHERE mqtt_group = %(group)s AND instance_id = %(member)s AND drained_by = %(instance)s
  AND heartbeat_at < now() - make_interval(secs => %(stale_s)s)
RETURNING instance_id
"""


@dataclass(frozen=True)
class Member:
    instance_id: str
    client_id: str


class MemberRegistry:
    def __init__(self, url: str, group: str, instance_id: str, client_id: str, stale_after_s: float,
                 claim_s: float, health_url: str | None = None) -> None:
        self.params = {"group": group, "instance": instance_id, "client_id": client_id,
                       "hostname": socket.gethostname(), "pid": os.getpid(), "stale_s": stale_after_s,
                       "claim_s": claim_s, "health_url": health_url}
        self._connection = StatementConnection(url)

    def _execute(self, query: str, **extra: object) -> list[tuple[object, ...]]:
        return self._connection.execute(query, {**self.params, **extra})

    @property
    def stale_after_s(self) -> float:
        return float(self.params["stale_s"])  # type: ignore[arg-type]

    def register(self) -> None:
        self._execute(REGISTER)

    def heartbeat(self) -> None:
        if not self._execute(HEARTBEAT + " RETURNING 1"):
            self.register()

    def mark_stopped(self) -> None:
        self._execute(MARK_STOPPED)

    def claim_stale(self) -> list[Member]:
        return [Member(str(i), str(c)) for i, c in self._execute(CLAIM_STALE)]

    def renew_claim(self, member: Member) -> bool:
        """False once the member is alive again (fresh heartbeat) or someone else took the claim."""
        return bool(self._execute(RENEW_CLAIM, member=member.instance_id))

    def release(self, member: Member) -> None:
        self._execute(RELEASE_CLAIM, member=member.instance_id)

    def retire(self, member: Member) -> bool:
        return bool(self._execute(RETIRE, member=member.instance_id))

    def close(self) -> None:
        self._connection.close()
