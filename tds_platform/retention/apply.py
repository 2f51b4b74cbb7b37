"""Applying the retention policy to the database, one table at a time, reporting what went.

Only rows strictly older than the cutoff (clock minus policy) are removed; this module must never
compute a cutoff from the data, and never hold one long transaction over a big delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from tds_platform.db.edition import Edition
from tds_platform.retention.plan import DELETE_BATCH, DROP_CHUNKS, MATERIALIZATION, delete_batch_sql, drops_chunks
from tds_platform.retention.policy import TARGETS, RetentionSettings, RetentionTarget, Storage


@dataclass
class RetentionOutcome:
    target: RetentionTarget
    days: float | None
    cutoff: datetime | None
    chunks_dropped: list[str] = field(default_factory=list)
    rows_deleted: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "table": self.target.table,
            "policy_days": "kept forever" if self.days is None else self.days,
            "cutoff": self.cutoff.isoformat() if self.cutoff else "none",
            "chunks_dropped": len(self.chunks_dropped),
            "chunk_names": ", ".join(self.chunks_dropped) or "none",
            "rows_deleted": self.rows_deleted,
        }


def apply_target(engine: Engine, edition: Edition, target: RetentionTarget, settings: RetentionSettings,
                 now: datetime) -> RetentionOutcome:
    """`rows_deleted` counts every row that went, in dropped chunks or by DELETE, so the figure is the
    same on every edition."""
    outcome = RetentionOutcome(target, settings.days(target), settings.cutoff(target, now))
    if outcome.cutoff is None:
        return outcome
    delete = DELETE_BATCH[target.setting]
    if drops_chunks(target, edition):
        with engine.begin() as conn:
            for chunk, rows in conn.execute(DROP_CHUNKS, {"relation": target.table, "cutoff": outcome.cutoff}):
                outcome.chunks_dropped.append(chunk)
                outcome.rows_deleted += rows
            if target.storage is Storage.ROLLUP:
                delete = delete_batch_sql(target, conn.execute(MATERIALIZATION, {"view": target.table}).scalar_one())
    params = {"cutoff": outcome.cutoff, "batch": settings.delete_batch_rows}
    while True:
        with engine.begin() as conn:
            deleted = conn.execute(delete, params).rowcount
        outcome.rows_deleted += deleted
        if deleted < settings.delete_batch_rows:
            break
    return outcome


def apply_retention(engine: Engine, edition: Edition, settings: RetentionSettings,
                    now: datetime) -> list[RetentionOutcome]:
    return [apply_target(engine, edition, target, settings, now) for target in TARGETS]
