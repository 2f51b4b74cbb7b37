"""Which SQL removes a table's expired rows on each edition: pure functions, no database.

drop_chunks removes whole chunks that end before the cutoff; a batched DELETE removes the rest
exactly. Deletes key on the primary key, never on ctid (ctids repeat across hypertable chunks).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import TextClause, text

from tds_platform.db.edition import Edition
from tds_platform.defs.retention.policy import TARGETS, RetentionTarget, Storage

DROP_CHUNKS = text(
    "SELECT chunk::text FROM drop_chunks(CAST(:relation AS regclass), older_than => CAST(:cutoff AS timestamptz))"
    " AS chunk"
)

DELETE_BATCH_TEMPLATE = """
DELETE FROM {table} WHERE {time} < :cutoff AND ({keys}) IN (
    SELECT {keys} FROM {table} WHERE {time} < :cutoff LIMIT :batch
)
"""


@dataclass(frozen=True, slots=True)
class Plan:
    drop_chunks: bool
    delete: bool


def plan(target: RetentionTarget, edition: Edition) -> Plan:
    """Hypertables: drop whole chunks, then delete the remainder. Continuous aggregates (full
    edition) cannot be DELETEd from: whole chunks only, so a few expired rows may stay a while."""
    if target.storage is Storage.RAW and edition.has_hypertables:
        return Plan(drop_chunks=True, delete=True)
    if target.storage is Storage.ROLLUP and edition.has_continuous_aggregates:
        return Plan(drop_chunks=True, delete=False)
    return Plan(drop_chunks=False, delete=True)


def delete_batch_sql(target: RetentionTarget) -> TextClause:
    return text(DELETE_BATCH_TEMPLATE.format(
        table=target.table, time=target.time_column, keys=", ".join(target.key_columns)
    ))


DELETE_BATCH = {target.setting: delete_batch_sql(target) for target in TARGETS}
