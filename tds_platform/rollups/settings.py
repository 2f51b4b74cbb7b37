"""How far back the rollup refresh schedules reach for late data: `TDS_ROLLUP_` settings.

Late readings inside this trailing window are picked up within minutes; anything older is a
backfill (launch it from the UI as one single-run range).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RollupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_ROLLUP_", extra="ignore")

    trailing_hours: int = Field(default=3, ge=1, description="hours (incl. the running one) refreshed every run")
    trailing_days: int = Field(default=2, ge=1, description="days (incl. today) the daily refresh rewrites")
