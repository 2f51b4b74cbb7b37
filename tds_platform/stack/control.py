"""One object for the whole local stack: bring it up, report on it, take it down.

`up` is idempotent (a running component is left alone) and `down` stops only what `up` started,
leaving the data folder for the next `up`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tds_platform.db.edition import detect_edition_url
from tds_platform.stack.layout import StackLayout
from tds_platform.stack.mosquitto import PLATFORM_USER, WRITER_USER, LocalMosquitto
from tds_platform.stack.postgres import LocalPostgres
from tds_platform.stack.processes import ServerStatus, StackError

__all__ = ["LocalStack", "StackError", "StackStatus"]


@dataclass
class StackStatus:
    postgres: ServerStatus
    broker: ServerStatus
    edition: str | None

    @property
    def healthy(self) -> bool:
        return self.postgres.running and self.broker.running


class LocalStack:
    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout
        self.postgres = LocalPostgres(layout)
        self.broker = LocalMosquitto(layout)

    def up(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        # Both service users must be able to reach their folders under the stack root.
        self.layout.root.chmod(0o755)
        self.layout.save()
        self.postgres.start()
        self.postgres.provision()
        self.broker.start()

    def down(self) -> None:
        self.broker.stop()
        self.postgres.stop()

    def database_url(self, database: str = "tds", login: str = "tds_dagster") -> str:
        """A service login's URL (tds_owner migrates, tds_ingest writes, tds_dagster runs the platform)."""
        return self.postgres.url(database, login)

    def writer_mqtt_url(self) -> str:
        return self.broker.url(WRITER_USER)

    def platform_mqtt_url(self) -> str:
        return self.broker.url(PLATFORM_USER)

    def device_mqtt_url(self, tenant: str) -> str:
        """The tenant's device account (the device listener's ACL confines it to the tenant)."""
        self.broker.ensure_user(tenant)
        return self.broker.url(tenant)

    def status(self) -> StackStatus:
        pg = self.postgres.status()
        edition = None
        if pg.running:
            edition = detect_edition_url(self.database_url()).value
        return StackStatus(postgres=pg, broker=self.broker.status(), edition=edition)
