"""Quality thresholds and gap rules, from `TDS_QUALITY_*` environment variables.

One pydantic-settings model passed down explicitly; no other quality module reads the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QualitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_QUALITY_", extra="ignore")

    gap_factor: float = Field(
        default=3.0, gt=1.0, description="a silence longer than gap_factor x expected interval is a gap"
    )
    min_coverage_pct: float = Field(default=95.0, ge=0, le=100, description="coverage check threshold")
    min_good_pct: float = Field(default=95.0, ge=0, le=100, description="good-percentage check threshold")
    max_gap_s: float = Field(default=900.0, gt=0, description="longest tolerated gap in a partition, seconds")
    check_severity: Literal["warn", "error"] = Field(
        default="warn", description="severity of a failing quality or expectation check"
    )
    max_offenders: int = Field(default=20, ge=1, description="offending series listed in a check's metadata")
    trailing_hours: int = Field(
        default=3, ge=1, description="closed hours the schedule re-judges every 5 minutes (late data, backfills)"
    )
