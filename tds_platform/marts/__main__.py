"""`python -m tds_platform.marts <dbt args>`: dbt by hand on the platform database (TDS_DATABASE_URL).

For developers and one-off full refreshes; must never print the connection it passes to dbt.
"""

from __future__ import annotations

import subprocess
import sys

from tds_platform.marts.dbt_cli import DBT_PROJECT_DIR, dbt_connection_env, dbt_executable, process_environment
from tds_platform.settings import PlatformSettings


def main(args: list[str]) -> int:
    project = {"DBT_PROJECT_DIR": str(DBT_PROJECT_DIR), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    connection = dbt_connection_env(PlatformSettings().resolved_database_url())
    with process_environment({**connection, **project}):
        return subprocess.run([dbt_executable(), *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
