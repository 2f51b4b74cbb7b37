"""Where alerts go and when silence becomes an alert: one pydantic-settings model, `TDS_ALERT_` prefix.

No other alerting module reads the environment; the webhook URL and SMTP password are secrets and
never appear in logs or reprs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertSettings(BaseSettings):
    """Sinks are switched on by being configured: log always, webhook and e-mail when given."""

    # Empty = unset: compose passes every TDS_ALERT_* through, set in .env or not.
    model_config = SettingsConfigDict(env_prefix="TDS_ALERT_", extra="ignore", env_ignore_empty=True)

    webhook_url: SecretStr | None = Field(
        default=None, description="POST target for Slack-compatible JSON; unset = no webhook"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    smtp_host: str | None = Field(default=None, description="SMTP server; unset = no e-mail")
    smtp_port: int = Field(default=25, gt=0)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    email_from: str = "tds-alerts@localhost"
    email_to: str = Field(default="", description="comma-separated recipients")
    file: Path | None = Field(
        default=None, description="append every notification as one JSON line here; unset = no file (`tds up` sets one)"
    )
    retry_base_s: float = Field(
        default=30.0, gt=0, description="first retry of a failed delivery after this long, doubling each time"
    )
    retry_max_s: float = Field(default=900.0, gt=0, description="longest wait between two delivery attempts")
    resolve_hold_s: float = Field(
        default=600.0, ge=0,
        description="a quality incident resolves only after staying clear this long (damps flapping)",
    )
    gap_critical_factor: float = Field(
        default=4.0, gt=1, description="an open gap this many times the allowed length makes its alert critical"
    )
    silence_factor: float = Field(
        default=3.0, gt=1, description="an equipment is silent after this many expected intervals without data"
    )
    fleet_silence_minutes: float = Field(
        default=15.0, gt=0, description="no reading from any equipment for this long is a critical alert"
    )
    lookback_hours: float = Field(
        default=168.0, gt=0, description="equipment silent for longer than this is no longer looked at"
    )

    dlq_window_minutes: float = Field(default=15.0, gt=0, description="window the dead-letter growth is counted in")
    dlq_threshold: int = Field(
        default=100, ge=1, description="this many dead letters within the window is an alert"
    )

    def email_recipients(self) -> list[str]:
        return [address.strip() for address in self.email_to.split(",") if address.strip()]
