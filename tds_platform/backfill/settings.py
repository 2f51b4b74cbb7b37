"""Gap backfill settings, from `TDS_BACKFILL_*` environment variables.

One pydantic-settings model passed down explicitly; no other backfill module reads the environment.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackfillSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_BACKFILL_", extra="ignore")

    margin_s: float = Field(
        default=60.0, ge=0, description="seconds asked for on each side of a gap (the writer absorbs overlaps)"
    )
    answer_timeout_s: float = Field(
        default=300.0, gt=0, description="a device without a final answer (done/partial/error) by then is unfillable"
    )
    settle_s: float = Field(
        default=3.0, ge=0, description="after the final answer, wait until no new reading landed for this long"
    )
    answer_check_interval_s: int = Field(
        default=15, ge=5, description="how often the backfill_answers sensor looks at commands waiting for an answer"
    )
    max_judged_per_tick: int = Field(
        default=200, ge=1, description="waiting commands the backfill_answers sensor looks at per tick (oldest first)"
    )
    open_gap_min_age_s: float = Field(
        default=900.0, ge=0, description="the sensor requests an open gap once its silence has lasted this long"
    )
    batch_slack_s: float = Field(
        default=300.0, ge=0,
        description="gaps of one equipment whose resend windows are at most this far apart share one run and command "
                    "(the device then also resends what lies between them)",
    )
    max_requests_per_tick: int = Field(
        default=10, ge=1,
        description="resend commands (each one equipment's batch of gaps) the sensor asks for per tick, in one run",
    )
    lookback_days: float = Field(default=7.0, gt=0, description="the sensor ignores gaps that started earlier")
    sensor_interval_s: int = Field(default=60, ge=10, description="how often the new-gap sensor looks")
