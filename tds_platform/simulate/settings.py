"""Simulator settings: one pydantic-settings model (`TDS_SIMULATE_` prefix) that CLI flags override.

Turns human inputs ("6h", "10s,meter=60s", a fault preset plus overrides) into the fleet shape and
fault rates; it must never connect to anything or read the environment outside pydantic-settings.
"""

from __future__ import annotations

import dataclasses
import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tds_platform.simulate.faults import FaultRates, preset
from tds_platform.simulate.fleet import DEFAULT_INTERVAL_S, KINDS, FleetShape

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Settings field -> FaultRates field, for the per-fault overrides of a preset.
RATE_FIELDS = {
    "gap_rate": "gap", "out_of_range_rate": "out_of_range", "bad_quality_rate": "bad_quality",
    "malformed_rate": "malformed", "duplicate_rate": "duplicate", "late_rate": "late", "skew_rate": "skew",
}
DURATION_FIELDS = {"gap_min": "gap_min_s", "gap_max": "gap_max_s", "late_max": "late_max_s", "skew_max": "skew_max_s"}


def parse_duration(text: str | float) -> float:
    """Seconds from "90", "90s", "15m", "6h" or "1d"."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 15m, 6h or 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def parse_intervals(spec: str) -> tuple[int, dict[str, int]]:
    """ "10s,meter=60s" -> (10, {"meter": 60}): a default reporting interval and per-kind overrides."""
    default, per_kind = None, {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, value = item.rpartition("=")
        seconds = parse_duration(value)
        if seconds < 1 or seconds != int(seconds):
            raise ValueError(f"interval {value!r} must be a whole number of seconds, at least 1")
        if not kind:
            default = int(seconds)
        elif kind in KINDS:
            per_kind[kind] = int(seconds)
        else:
            raise ValueError(f"unknown equipment kind {kind!r} in interval; known: {', '.join(KINDS)}")
    return default or DEFAULT_INTERVAL_S, per_kind


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_SIMULATE_", extra="ignore")

    mqtt_url: str | None = Field(
        default=None, description="mqtt://user:pass@host:port; `{tenant}` is replaced by each tenant's id. "
        "Default: the local stack, where every tenant gets its own device account")
    seed: int = Field(default=1, description="same seed, same fleet, signals, faults and payload bytes")
    tenants: int = Field(default=2, ge=1, le=1000)
    sites: int = Field(default=2, ge=1, le=1000, description="sites per tenant")
    equipment: int = Field(default=3, ge=1, le=1000, description="equipment per site (chillers and meters in turn)")
    interval: str = Field(default="10s", description='reporting interval, per kind too: "10s,meter=30s"')
    speed: float = Field(default=1.0, gt=0, description="simulated seconds per wall-clock second in live mode")
    history: float = Field(default=0.0, ge=0, description="publish this much past data first (e.g. 6h)")
    duration: float | None = Field(default=None, ge=0, description="stop after this much live time; 0 = history only")
    buffer: float = Field(default=86400.0, gt=0, description="how far back each device remembers readings (resend)")
    faults: str = Field(default="none", description="fault preset: none or demo")
    gap_rate: float | None = None
    gap_min: float | None = None
    gap_max: float | None = None
    out_of_range_rate: float | None = None
    bad_quality_rate: float | None = None
    malformed_rate: float | None = None
    duplicate_rate: float | None = None
    late_rate: float | None = None
    late_max: float | None = None
    skew_rate: float | None = None
    skew_max: float | None = None
    max_inflight: int = Field(default=200, ge=1, description="unacknowledged QoS 1 messages allowed in flight")

    @field_validator("history", "duration", "buffer", "gap_min", "gap_max", "late_max", "skew_max", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_intervals(value)
        return value

    def fleet_shape(self) -> FleetShape:
        default, per_kind = parse_intervals(self.interval)
        return FleetShape(tenants=self.tenants, sites=self.sites, equipment=self.equipment,
                          interval_s=default, kind_intervals_s=per_kind)

    def fault_rates(self) -> FaultRates:
        """The preset with every knob that was set explicitly applied on top."""
        changes: dict[str, float] = {}
        for field, name in (RATE_FIELDS | DURATION_FIELDS).items():
            value = getattr(self, field)
            if value is not None:
                changes[name] = int(value) if field in DURATION_FIELDS else value
        return dataclasses.replace(preset(self.faults), **changes)
