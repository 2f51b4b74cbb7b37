"""How the platform starts dbt: the project folder, the dbt beside this Python, and the database
from TDS_DATABASE_URL split into the TDS_DBT_* variables dbt_metrics/profiles.yml reads. Must never
log the values.

dbt profiles cannot parse a URL, and dbt reads its connection only from its own environment, so
the split values exist only in the environment of the dbt invocations started here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_metrics"
DEFAULT_PORT = 5432


def dbt_connection_env(database_url: str) -> dict[str, str]:
    """The TDS_DBT_* variables profiles.yml reads, from one postgresql:// URL."""
    url = make_url(database_url)
    if not url.database:
        raise ValueError("TDS_DATABASE_URL names no database; expected postgresql://user:pass@host:port/dbname")
    query_host = url.query.get("host")
    host = url.host or (query_host if isinstance(query_host, str) else None) or "localhost"
    sslmode = url.query.get("sslmode")
    return {
        "TDS_DBT_HOST": host,
        "TDS_DBT_PORT": str(url.port or DEFAULT_PORT),
        "TDS_DBT_USER": url.username or "postgres",
        "TDS_DBT_PASSWORD": url.password or "",
        "TDS_DBT_DBNAME": url.database,
        "TDS_DBT_SSLMODE": sslmode if isinstance(sslmode, str) else "prefer",
    }


@contextmanager
def process_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Adds `values` to this process's environment for the duration, then restores it.

    dagster-dbt builds the dbt subprocess environment from os.environ and offers no parameter for
    it, so the connection variables are placed there only while an invocation is being started.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous


def dbt_executable() -> str:
    """The dbt installed beside this Python, so a virtualenv works without being activated."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"
