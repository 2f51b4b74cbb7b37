"""Which faults hit which device, message and point: rates (all off by default) and a pure schedule.

Every decision is a deterministic draw keyed by (seed, device, tick), so a faulty run repeats
exactly; this module decides faults but must never build payloads or publish.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from tds_platform.simulate.fleet import Device, MetricProfile, ValueType
from tds_platform.simulate.randomness import draws

# Gaps are drawn per device and per hour-long slot, so "is this device silent now?" is O(1).
GAP_SLOT_S = 3600


@dataclass(frozen=True, slots=True)
class FaultRates:
    gap: float = 0.0  # chance per device and hour that it goes silent for gap_min_s..gap_max_s
    gap_min_s: int = 120
    gap_max_s: int = 600
    out_of_range: float = 0.0  # chance per numeric point that the device reports an impossible value
    bad_quality: float = 0.0  # chance per point of a "bad" or "uncertain" quality flag
    malformed: float = 0.0  # chance per message of invalid JSON, a schema violation or garbage bytes
    duplicate: float = 0.0  # chance per message that it is published twice
    late: float = 0.0  # chance per message that it is held back, arriving after newer ones
    late_max_s: int = 120
    skew: float = 0.0  # share of devices whose clock is off by up to +/- skew_max_s
    skew_max_s: int = 300

    def __post_init__(self) -> None:
        for name in ("gap", "out_of_range", "bad_quality", "malformed", "duplicate", "late", "skew"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"fault rate {name} must be between 0 and 1, got {getattr(self, name)}")
        if not 0 < self.gap_min_s <= self.gap_max_s <= GAP_SLOT_S:
            raise ValueError(f"gap durations must satisfy 0 < min <= max <= {GAP_SLOT_S} s")
        if self.late_max_s < 1 or self.skew_max_s < 0:
            raise ValueError("late_max_s must be at least 1 and skew_max_s at least 0")


PRESETS: Mapping[str, FaultRates] = {
    "none": FaultRates(),
    # Enough of everything for a few-minute demo of a dozen devices to show each fault in the UI.
    "demo": FaultRates(gap=0.5, out_of_range=0.002, bad_quality=0.01, malformed=0.002, duplicate=0.01,
                       late=0.01, skew=0.1, skew_max_s=120),
}


class Malformation(enum.StrEnum):
    INVALID_JSON = "invalid_json"
    BAD_SCHEMA = "bad_schema"
    GARBAGE = "garbage"


@dataclass(frozen=True, slots=True)
class MessageFaults:
    malformed: Malformation | None = None
    duplicate: bool = False
    late_s: int = 0


@dataclass(frozen=True, slots=True)
class PointFault:
    value: float | None = None  # the impossible value to report instead, if any
    quality: str | None = None  # the flag to report instead of "good", if any


NO_POINT_FAULT = PointFault()


class FaultSchedule:
    def __init__(self, rates: FaultRates, seed: int) -> None:
        self.rates = rates
        self.seed = seed

    def gap_in_slot(self, device: Device, slot: int) -> tuple[int, int] | None:
        """The [start, end) of this device's silence that starts in the slot, if it has one."""
        if self.rates.gap <= 0.0:
            return None
        u = draws(self.seed, "gap", device.tenant, device.equipment, slot)
        if u[0] >= self.rates.gap:
            return None
        start = slot * GAP_SLOT_S + int(u[1] * GAP_SLOT_S)
        duration = self.rates.gap_min_s + int(u[2] * (self.rates.gap_max_s - self.rates.gap_min_s + 1))
        return start, start + duration

    def silent(self, device: Device, tick: int) -> bool:
        slot = tick // GAP_SLOT_S
        for candidate in (slot, slot - 1):  # a gap lasts at most one slot, so it can only spill into the next
            window = self.gap_in_slot(device, candidate)
            if window and window[0] <= tick < window[1]:
                return True
        return False

    def clock_offset_s(self, device: Device) -> int:
        """A constant error of this device's clock, applied to every timestamp it writes."""
        if self.rates.skew <= 0.0:
            return 0
        u = draws(self.seed, "skew", device.tenant, device.equipment)
        if u[0] >= self.rates.skew:
            return 0
        size = 1 + int(u[1] * self.rates.skew_max_s)
        return size if u[2] < 0.5 else -size

    def message(self, device: Device, tick: int) -> MessageFaults:
        r = self.rates
        if not (r.malformed or r.duplicate or r.late):
            return MessageFaults()
        u = draws(self.seed, "message", device.tenant, device.equipment, tick)
        malformed = list(Malformation)[int(u[3] * len(Malformation))] if u[0] < r.malformed else None
        late_s = 1 + int(u[4] * r.late_max_s) if u[2] < r.late else 0
        return MessageFaults(malformed=malformed, duplicate=u[1] < r.duplicate, late_s=late_s)

    def point(self, device: Device, tick: int, metric: MetricProfile) -> PointFault:
        r = self.rates
        if not (r.out_of_range or r.bad_quality):
            return NO_POINT_FAULT
        u = draws(self.seed, "point", device.tenant, device.equipment, tick, metric.name)
        value = None
        if u[0] < r.out_of_range and metric.type is ValueType.FLOAT:
            value = impossible_value(metric, u[2])
        quality = ("bad" if u[3] < 0.5 else "uncertain") if u[1] < r.bad_quality else None
        return PointFault(value, quality) if value is not None or quality else NO_POINT_FAULT


def impossible_value(metric: MetricProfile, u: float) -> float:
    """What broken sensors really send: an error sentinel, or a reading far outside the valid range."""
    span = metric.valid_max - metric.valid_min
    choices = (-999.0, metric.valid_max + span * 2, metric.valid_min - span)
    return choices[int(u * len(choices))]


def preset(name: str) -> FaultRates:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown fault preset {name!r}; choose one of {', '.join(PRESETS)}") from None
