"""Compressing the readings' chunks once they are past the late-data window (full TimescaleDB
edition only), for the `apply_retention` job.

Only calls `tds.compress_settled_chunks` (migration 0011); it never decompresses, and on editions
without compression it does nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from tds_platform.db.edition import Edition

# One chunk per transaction: compressing a day of a large fleet takes tens of seconds, and a late
# reading for that chunk waits for its lock meanwhile; one transaction for all would make it wait
# for every chunk (a first run over a month of history).
COMPRESS_SETTLED = text("SELECT tds.compress_settled_chunks(:older_than, 1)")


@dataclass(frozen=True)
class Compressed:
    """What one pass did: the chunks compressed, or why nothing could be."""

    older_than: datetime | None
    chunks: list[str]
    unavailable: str | None = None

    def metadata(self) -> dict[str, str | int]:
        if self.unavailable:
            return {"compression": self.unavailable}
        return {"chunks_compressed": len(self.chunks), "older_than": str(self.older_than)}


def compress_settled(engine: Engine, edition: Edition, after: timedelta, now: datetime) -> Compressed:
    """Compress every chunk of the readings wholly older than `now - after`."""
    if not edition.has_compression:
        return Compressed(None, [], f"unavailable on the {edition.value} edition")
    older_than = now - after
    chunks: list[str] = []
    while True:
        with engine.begin() as conn:
            done = list(conn.execute(COMPRESS_SETTLED, {"older_than": older_than}).scalars())
        if not done:
            return Compressed(older_than, chunks)
        chunks += done
