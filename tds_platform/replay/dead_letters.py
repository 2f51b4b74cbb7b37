"""Reading dead letters for a replay and recording each one's replay outcome in `tds.dlq`.

Only `replayed_at` and `replay_result` are ever written; topic, payload, reason and detail (the
original evidence) are never updated, and no row is ever deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, TEXT

LANDED = "landed"
IGNORED = "ignored"
STILL_INVALID = "still_invalid"

# Rows a replay looks at: never replayed, or replayed and still invalid (a later fix may land
# them). Landed and ignored rows are final, which is what makes a second replay a no-op.
SELECT_PENDING = text("""
SELECT id, received_at, topic, payload, replay_result
FROM tds.dlq
WHERE (replay_result IS NULL OR replay_result LIKE 'still\\_invalid%')
  AND id > :after
  AND (CAST(:reason AS text) IS NULL OR reason = :reason)
  AND (CAST(:since AS timestamptz) IS NULL OR received_at >= :since)
ORDER BY id
LIMIT :batch
""")

# A row whose outcome did not change keeps its first replay time: re-running changes nothing.
MARK = text("""
UPDATE tds.dlq d
SET replayed_at = :now, replay_result = o.result
FROM unnest(:ids, :results) AS o(id, result)
WHERE d.id = o.id AND d.replay_result IS DISTINCT FROM o.result
""").bindparams(bindparam("ids", type_=ARRAY(BIGINT)), bindparam("results", type_=ARRAY(TEXT)))

COUNTS_BY_REASON = text("""
SELECT reason,
       count(*) AS total,
       count(*) FILTER (WHERE replay_result IS NULL) AS never_replayed,
       count(*) FILTER (WHERE replay_result = 'landed') AS landed,
       count(*) FILTER (WHERE replay_result LIKE 'still\\_invalid%') AS still_invalid,
       max(received_at) AS newest
FROM tds.dlq
GROUP BY reason
ORDER BY total DESC, reason
""")

NEWEST = text("""
SELECT id, received_at, reason, topic, detail, replay_result
FROM tds.dlq
ORDER BY id DESC
LIMIT :limit
""")


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: int
    received_at: datetime
    topic: str
    payload: bytes
    replay_result: str | None


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: str
    total: int
    never_replayed: int
    landed: int
    still_invalid: int
    newest: datetime


@dataclass(frozen=True, slots=True)
class RecentDeadLetter:
    id: int
    received_at: datetime
    reason: str
    topic: str
    detail: str | None
    replay_result: str | None


def still_invalid(reason: str, detail: str) -> str:
    return f"{STILL_INVALID}: {reason}: {detail}"


def pending(conn: Connection, after: int, batch: int, reason: str | None,
            since: datetime | None) -> list[DeadLetterRow]:
    """The next `batch` rows after id `after` that a replay should judge, oldest first."""
    rows = conn.execute(SELECT_PENDING, {"after": after, "batch": batch, "reason": reason, "since": since})
    return [DeadLetterRow(r.id, r.received_at, r.topic, bytes(r.payload), r.replay_result) for r in rows]


def mark(conn: Connection, outcomes: Sequence[tuple[int, str]], now: datetime) -> int:
    """Record each row's outcome; returns how many rows changed."""
    if not outcomes:
        return 0
    params = {"now": now, "ids": [row_id for row_id, _ in outcomes], "results": [result for _, result in outcomes]}
    return conn.execute(MARK, params).rowcount


def counts_by_reason(conn: Connection) -> list[ReasonCount]:
    return [ReasonCount(*row) for row in conn.execute(COUNTS_BY_REASON)]


def newest(conn: Connection, limit: int) -> list[RecentDeadLetter]:
    return [RecentDeadLetter(*row) for row in conn.execute(NEWEST, {"limit": limit})]
