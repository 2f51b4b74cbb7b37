"""How long each table keeps its rows: one pydantic-settings model (`TDS_RETENTION_` prefix).

The cutoff is always the clock minus the policy, never derived from the data, so rows stamped in
the future by a skewed device clock can never push the cutoff forward. `keep` means forever.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Days = float | None


class RetentionSettings(BaseSettings):
    """Days to keep per table; set a variable to `keep` (e.g. TDS_RETENTION_RAW_DAYS=keep) to keep forever."""

    model_config = SettingsConfigDict(env_prefix="TDS_RETENTION_", extra="ignore", env_parse_none_str="keep")

    raw_days: Days = Field(default=30, gt=0, description="tds.telemetry (raw readings)")
    telemetry_1m_days: Days = Field(default=90, gt=0)
    telemetry_1h_days: Days = Field(default=730, gt=0)
    telemetry_1d_days: Days = Field(default=None, gt=0)
    dlq_days: Days = Field(default=14, gt=0, description="tds.dlq (dead letters)")
    delete_batch_rows: int = Field(default=50_000, gt=0, description="rows per DELETE transaction")
    # Past the daily rollup's trailing window (TDS_ROLLUP_TRAILING_DAYS, 2): what is refreshed on a
    # schedule stays uncompressed. Later readings (a gap resend of last week) still land.
    compress_after_days: int = Field(default=3, gt=0, description="raw chunks older than this are compressed "
                                                                   "(full TimescaleDB edition)")

    def days(self, target: RetentionTarget) -> Days:
        return getattr(self, target.setting)

    def cutoff(self, target: RetentionTarget, now: datetime) -> datetime | None:
        """Rows strictly older than this may go; None: the table is kept forever."""
        days = self.days(target)
        return None if days is None else now - timedelta(days=days)


class Storage(enum.Enum):
    """How a table is stored, which decides how old rows can go (see `plan`)."""

    RAW = "raw"  # hypertable with TimescaleDB, BRIN-indexed table without
    ROLLUP = "rollup"  # continuous aggregate on the full edition, plain table otherwise
    TABLE = "table"  # always a plain table


@dataclass(frozen=True, slots=True)
class RetentionTarget:
    """A table under retention; the fixed allow-list below is the only source of identifiers in SQL."""

    setting: str
    table: str
    time_column: str
    key_columns: tuple[str, ...]
    asset_key: str
    storage: Storage


TARGETS = (
    RetentionTarget("raw_days", "tds.telemetry_raw", "ts", ("series_id", "ts"), "telemetry", Storage.RAW),
    RetentionTarget("telemetry_1m_days", "tds.telemetry_1m_data", "bucket", ("series_id", "bucket"),
                    "telemetry_1m", Storage.ROLLUP),
    RetentionTarget("telemetry_1h_days", "tds.telemetry_1h_data", "bucket", ("series_id", "bucket"),
                    "telemetry_1h", Storage.ROLLUP),
    RetentionTarget("telemetry_1d_days", "tds.telemetry_1d_data", "bucket", ("series_id", "bucket"),
                    "telemetry_1d", Storage.ROLLUP),
    RetentionTarget("dlq_days", "tds.dlq", "received_at", ("id",), "dlq", Storage.TABLE),
)
TARGETS_BY_ASSET = {target.asset_key: target for target in TARGETS}
