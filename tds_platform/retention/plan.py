"""Which SQL removes a table's expired rows on each edition: pure functions, no database.

drop_chunks removes whole chunks that end before the cutoff; a batched DELETE removes the rest
exactly, so every edition keeps exactly the same rows. Deletes key on the primary key, never on ctid
(ctids repeat across hypertable chunks).
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from tds_platform.db.edition import Edition
from tds_platform.retention.policy import TARGETS, RetentionTarget, Storage

# Migration 0006: drop_chunks as the owner, with the rows each chunk held.
DROP_CHUNKS = text(
    "SELECT chunk, row_count FROM tds.drop_expired_chunks(CAST(:relation AS regclass), CAST(:cutoff AS timestamptz))"
)
# A continuous aggregate takes no DELETE: the rows past its last whole chunk go from the hypertable
# that stores it (its owner, tds_platform, may). Name quoted by the catalog, never by us.
MATERIALIZATION = text(
    "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)"
    " FROM timescaledb_information.continuous_aggregates WHERE format('%I.%I', view_schema, view_name) = :view"
)

DELETE_BATCH_TEMPLATE = """
DELETE FROM {table} WHERE {time} < :cutoff AND ({keys}) IN (
    SELECT {keys} FROM {table} WHERE {time} < :cutoff LIMIT :batch
)
"""


def drops_chunks(target: RetentionTarget, edition: Edition) -> bool:
    """Hypertables and continuous aggregates lose whole chunks first (then the DELETE takes the
    rest); plain tables only ever take the DELETE."""
    if target.storage is Storage.RAW:
        return edition.has_hypertables
    return target.storage is Storage.ROLLUP and edition.has_continuous_aggregates


def delete_batch_sql(target: RetentionTarget, table: str | None = None) -> TextClause:
    """The batched DELETE for `target`, on `table` when its rows are stored elsewhere (a continuous
    aggregate's materialization hypertable); `table` comes from the catalog, quoted there."""
    return text(DELETE_BATCH_TEMPLATE.format(
        table=table or target.table, time=target.time_column, keys=", ".join(target.key_columns)
    ))


DELETE_BATCH = {target.setting: delete_batch_sql(target) for target in TARGETS}
