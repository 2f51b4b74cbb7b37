"""SQLAlchemy engines for the platform, built from one URL.

Engines are cached per URL so Dagster resources, the CLI and tests share pools instead of
opening a new one per call.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine

from tds_platform.db.urls import sqlalchemy_url


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5)
