"""Which database errors a message can cause, and which are the database's own condition.

A batch the database refuses for something a message can cause is split to find that message, which
is dead-lettered while the rest land; any other error is the operator's (unreachable, a permission, a
missing table) and the batch is retried whole, unacknowledged, until the database takes it. The SQLSTATE
of a resource error decides, never its exception class alone: psycopg files "out of shared memory"
(53200) under OperationalError like a lost connection, and treating both as "unavailable" retried a
batch holding one message with readings on 7,502 days (one TimescaleDB chunk each) forever, with every
innocent message in it.
"""

from __future__ import annotations

import psycopg

from ingest_stream.records import DeadLetterReason

# 53200 out of memory (also "out of shared memory": the lock table), 53400 configuration limit exceeded
# (temp_file_limit), 54 program limit exceeded (statement too complex, too many arguments). The other
# class 53 states (disk full, too many connections) are the database's condition, whatever the batch holds.
_LIMIT_STATES = ("53200", "53400")
_LIMIT_CLASSES = ("54",)


def message_fault(error: psycopg.Error) -> DeadLetterReason | None:
    """The dead-letter reason when a message in the batch can have caused `error`, else None."""
    if isinstance(error, psycopg.DataError | psycopg.IntegrityError):
        # A value the database cannot store: classes 22 and 23, or psycopg's own refusal of a NUL in text.
        return DeadLetterReason.DATABASE_REJECTED
    state = error.sqlstate or ""
    if state in _LIMIT_STATES or state.startswith(_LIMIT_CLASSES):
        return DeadLetterReason.DATABASE_LIMIT
    return None
