"""The broker account the platform sends device commands with (`tds-platform`: may publish `tds/+/+/+/cmd`).

Resolved when a command is sent, not at import: `TDS_MQTT_URL` in production, else the local
stack's account; its URL carries a password, so it is never logged.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.settings import PlatformSettings
from tds_platform.stack import LocalStack


class CommandBrokerResource(dg.ConfigurableResource):
    """mqtt://tds-platform:password@host:port; unset = the local stack's `tds-platform` account."""

    url: str | None = None

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return LocalStack(PlatformSettings().layout()).platform_mqtt_url()
