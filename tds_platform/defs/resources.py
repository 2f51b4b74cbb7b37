"""The Dagster resources every domain shares: the platform database (and its edition).

Configured from `TDS_DATABASE_URL` like every other component, so one variable points Dagster,
the writer, dbt and the CLI at the same database. Dagster resolves it when a run or a tick starts
(`dg.EnvVar`), never when the code location loads: the password is neither read at import nor
kept in the code location's snapshot, and the UI shows the variable's name only.
"""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine

from tds_platform.db.edition import Edition, detect_edition_url
from tds_platform.db.engine import engine_for

# `tds up` sets it for Dagster's processes (the local stack's database as Dagster's login),
# docker-compose.yml for the code server.
DATABASE_URL = dg.EnvVar("TDS_DATABASE_URL")


class DatabaseResource(dg.ConfigurableResource):
    """The platform database: an SQLAlchemy engine and the TimescaleDB edition it runs."""

    url: str

    def engine(self) -> Engine:
        return engine_for(self.url)

    def edition(self) -> Edition:
        return detect_edition_url(self.url)
