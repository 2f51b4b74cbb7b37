"""Alembic environment: migrations run on the connection `tds db upgrade` hands in.

The URL never comes from alembic.ini, so one variable (TDS_DATABASE_URL) points every tool at
one database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from tds_platform.db.urls import sqlalchemy_url

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, version_table_schema="public")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(sqlalchemy_url(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as conn:
        context.configure(connection=conn, version_table_schema="public")
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
