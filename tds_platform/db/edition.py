"""Which TimescaleDB edition the database has: the one place every component asks.

Full (Timescale License) gets continuous aggregates; Apache gets hypertables and drop_chunks;
none is plain PostgreSQL. Nothing else may probe the extension on its own.
"""

from __future__ import annotations

import enum

from sqlalchemy import Connection, text

from tds_platform.db.engine import engine_for


class Edition(enum.StrEnum):
    FULL = "full"
    APACHE = "apache"
    NONE = "none"

    @property
    def has_hypertables(self) -> bool:
        return self is not Edition.NONE

    @property
    def has_continuous_aggregates(self) -> bool:
        return self is Edition.FULL

    @property
    def has_compression(self) -> bool:
        return self is Edition.FULL


def detect_edition(conn: Connection) -> Edition:
    installed = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    ).scalar()
    if installed is None:
        return Edition.NONE
    license_ = conn.execute(text("SELECT current_setting('timescaledb.license', true)")).scalar()
    return Edition.APACHE if license_ == "apache" else Edition.FULL


def timescaledb_available(conn: Connection) -> bool:
    """The extension can be created here: its files are installed and the library is preloaded."""
    available = conn.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).scalar()
    preload = conn.execute(text("SELECT current_setting('shared_preload_libraries')")).scalar() or ""
    return bool(available) and "timescaledb" in preload


def detect_edition_url(url: str) -> Edition:
    with engine_for(url).connect() as conn:
        return detect_edition(conn)
