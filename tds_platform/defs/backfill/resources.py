"""The broker account the platform sends device commands with (`tds-platform`: may publish `tds/+/+/+/cmd`).

`TDS_MQTT_URL`, resolved by Dagster when a run starts (`dg.EnvVar`), never at import: its URL
carries a password, so it is never logged nor kept in the code location's snapshot. `tds up` sets
it to the local stack's account.
"""

from __future__ import annotations

import dagster as dg

MQTT_URL = dg.EnvVar("TDS_MQTT_URL")


class CommandBrokerResource(dg.ConfigurableResource):
    """mqtt://tds-platform:password@host:port (mqtts:// for TLS)."""

    url: str
