"""Refreshing one rollup level over one window, on whichever edition the database runs.

Idempotent by construction (the window is rewritten, or the continuous aggregate recomputed), so
re-runs and backfills are always safe; it must never touch buckets outside the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from tds_platform.db.edition import Edition
from tds_platform.rollups.levels import RollupLevel
from tds_platform.rollups.sql import CAGG_REFRESH, COUNT, DELETE, INSERT, LOCK_LEVEL, REFRESH_WORK_MEM


@dataclass(frozen=True, slots=True)
class RefreshResult:
    level: str
    start: datetime
    end: datetime
    edition: Edition
    rows_written: int
    rows_replaced: int | None
    duration_s: float

    def metadata(self) -> dict[str, Any]:
        return {
            "rows_written": self.rows_written,
            "rows_replaced": "n/a (continuous aggregate)" if self.rows_replaced is None else self.rows_replaced,
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "edition": self.edition.value,
            "duration_s": round(self.duration_s, 3),
        }


def refresh(engine: Engine, edition: Edition, level: RollupLevel, start: datetime, end: datetime) -> RefreshResult:
    window = {"start": start, "end": end}
    began = time.monotonic()
    if edition.has_continuous_aggregates:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(CAGG_REFRESH, {"relation": level.data_table, **window})
            written = conn.execute(COUNT[level.name], window).scalar_one()
        replaced = None
    else:
        with engine.begin() as conn:
            conn.execute(LOCK_LEVEL, {"level": level.name})
            conn.execute(REFRESH_WORK_MEM)
            replaced = conn.execute(DELETE[level.name], window).rowcount
            written = conn.execute(INSERT[(edition, level.name)], window).rowcount
    return RefreshResult(level.name, start, end, edition, written, replaced, time.monotonic() - began)
