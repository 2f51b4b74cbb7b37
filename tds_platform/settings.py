"""Platform settings (Dagster resources, CLI): one pydantic-settings model, `TDS_` prefix.

No other platform module reads os.environ for configuration; secrets stay in SecretStr-free
URLs that are only ever printed through `redact`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tds_platform.stack.layout import DEFAULT_ROOT, StackLayout
from tds_platform.stack.postgres import LocalPostgres


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="postgresql://user:pass@host:port/db; default: the local stack's"
    )
    mqtt_url: str | None = Field(
        default=None, description="mqtt://user:pass@host:port for commands to devices; default: local stack's"
    )
    stack_dir: Path = Field(default=DEFAULT_ROOT, description="folder of the local stack")
    partitions_start: str = Field(
        default="2026-01-01", description="first hourly/daily partition (UTC date), e.g. 2026-01-01"
    )

    def layout(self) -> StackLayout:
        return StackLayout.load(self.stack_dir)

    def resolved_mqtt_url(self) -> str:
        """TDS_MQTT_URL, or the local stack's service listener (address only: status needs no login)."""
        if self.mqtt_url:
            return self.mqtt_url
        return f"mqtt://127.0.0.1:{self.layout().service_port}"

    def resolved_database_url(self) -> str:
        """TDS_DATABASE_URL, or the local stack's `tds` database as the platform's login when it is unset."""
        if self.database_url:
            return self.database_url
        return LocalPostgres(self.layout()).url()
