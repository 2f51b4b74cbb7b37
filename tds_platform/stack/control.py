"""One object for the whole local stack: bring it up, report on it, take it down.

`up` is idempotent (a running component is left alone) and `down` stops only what `up` started,
leaving the data folder for the next `up`.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

from tds_platform.db.edition import detect_edition_url
from tds_platform.stack.layout import StackLayout
from tds_platform.stack.mosquitto import DEVICE_SEPARATOR, PLATFORM_USER, WRITER_USER, LocalMosquitto
from tds_platform.stack.postgres import LocalPostgres
from tds_platform.stack.processes import ServerStatus, StackError, unreachable_folder

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
        self._check_reachable()
        self.layout.save()
        self.postgres.start()
        self.postgres.provision()
        self.broker.start()

    def _check_reachable(self) -> None:
        """Root runs PostgreSQL and Mosquitto as their own users, which must be able to pass through
        every folder above the stack (a clone under /root, or in a `mktemp -d` folder, is not):
        refused before anything starts, never changing the permissions of a folder we do not own."""
        root = self.layout.root.absolute()
        for user in dict.fromkeys((self.postgres.user, self.broker.user)):
            blocked = unreachable_folder(root, user)
            if blocked is not None:
                mode = stat.S_IMODE(blocked.stat().st_mode)
                raise StackError(
                    f"the {user} user, which the local {'PostgreSQL' if user == self.postgres.user else 'Mosquitto'} "
                    f"runs as, cannot enter {blocked} (mode {mode:o}) on the way to the stack folder {root}: "
                    f"let it pass with `chmod o+x {blocked}`, or keep the stack where it can, e.g. "
                    f"`.venv/bin/tds up --stack-dir /var/tmp/tds` instead of `make up`")

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

    def device_mqtt_url(self, tenant: str, device: str | None = None) -> str:
        """A device account of the tenant (the device listener's ACL confines it to the tenant). One
        account is one connection: a tenant's further devices each take `<tenant>~<device>`."""
        account = tenant if device is None else f"{tenant}{DEVICE_SEPARATOR}{device}"
        self.broker.ensure_user(account)
        return self.broker.url(account)

    def status(self) -> StackStatus:
        pg = self.postgres.status()
        edition = None
        if pg.running:
            edition = detect_edition_url(self.database_url()).value
        return StackStatus(postgres=pg, broker=self.broker.status(), edition=edition)
