"""The Dagster resources every domain shares: the platform database (and its edition).

Configured from `TDS_DATABASE_URL` like every other component, so one variable points Dagster,
the writer, dbt and the CLI at the same database.
"""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine

from tds_platform.db.edition import Edition, detect_edition_url
from tds_platform.db.engine import engine_for


class DatabaseResource(dg.ConfigurableResource):
    """The platform database: an SQLAlchemy engine and the TimescaleDB edition it runs."""

    url: str

    def engine(self) -> Engine:
        return engine_for(self.url)

    def edition(self) -> Edition:
        return detect_edition_url(self.url)
