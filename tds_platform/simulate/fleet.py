"""The simulated fleet: tenants, sites, equipment and the metrics each kind of equipment reports.

A fleet is plain immutable data derived from a shape and a seed; it must never hold connections,
clocks or buffers (those belong to the runner and the device state).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from tds_platform.simulate.randomness import uniform

# Readable tenant ids for the first fleets (they are also MQTT usernames); more get numbered names.
TENANT_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "stark")
DEFAULT_INTERVAL_S = 10


class ValueType(enum.StrEnum):
    """The payload v1 point type (`t`)."""

    FLOAT = "float"
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class MetricProfile:
    name: str
    type: ValueType
    unit: str | None
    valid_min: float
    valid_max: float
    decimals: int = 2
    every: int = 1  # reported on every Nth tick of its equipment: metrics can be slower than their device


@dataclass(frozen=True, slots=True)
class EquipmentKind:
    name: str
    metrics: tuple[MetricProfile, ...]

    def metric(self, name: str) -> MetricProfile:
        return next(m for m in self.metrics if m.name == name)


CHILLER = EquipmentKind("chiller", (
    MetricProfile("temp_agua_saida", ValueType.FLOAT, "°C", 0.0, 30.0),
    MetricProfile("temp_agua_entrada", ValueType.FLOAT, "°C", 0.0, 40.0),
    MetricProfile("corrente", ValueType.FLOAT, "A", 0.0, 250.0, decimals=1),
    MetricProfile("pressao", ValueType.FLOAT, "bar", 0.0, 10.0),
    MetricProfile("running", ValueType.BOOL, None, 0.0, 1.0, decimals=0),
))
METER = EquipmentKind("meter", (
    MetricProfile("energia_kwh", ValueType.FLOAT, "kWh", 0.0, 1e9, decimals=3, every=6),
    MetricProfile("potencia_kw", ValueType.FLOAT, "kW", 0.0, 1000.0),
))
KINDS: Mapping[str, EquipmentKind] = {kind.name: kind for kind in (CHILLER, METER)}


@dataclass(frozen=True, slots=True)
class Device:
    """One piece of equipment with its own reporting clock (interval and phase, whole seconds)."""

    tenant: str
    site: str
    equipment: str
    kind: EquipmentKind
    interval_s: int
    phase_s: int

    def topic(self, kind: str) -> str:
        return f"tds/{self.tenant}/{self.site}/{self.equipment}/{kind}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.equipment)


@dataclass(frozen=True, slots=True)
class FleetShape:
    tenants: int = 2
    sites: int = 2  # per tenant
    equipment: int = 3  # per site, kinds taken in turn
    interval_s: int = DEFAULT_INTERVAL_S
    kind_intervals_s: Mapping[str, int] = field(default_factory=dict)  # e.g. {"meter": 60}
    kinds: tuple[str, ...] = ("chiller", "meter")


def tenant_name(number: int) -> str:
    return TENANT_NAMES[number - 1] if number <= len(TENANT_NAMES) else f"tenant{number}"


def build_fleet(shape: FleetShape, seed: int) -> tuple[Device, ...]:
    """Every device of the shape; equipment names are unique per tenant, as tds.equipment requires."""
    devices = []
    for t in range(1, shape.tenants + 1):
        tenant = tenant_name(t)
        for s in range(1, shape.sites + 1):
            counts: dict[str, int] = {}
            for e in range(shape.equipment):
                kind = KINDS[shape.kinds[e % len(shape.kinds)]]
                counts[kind.name] = counts.get(kind.name, 0) + 1
                equipment = f"s{s}-{kind.name}-{counts[kind.name]:02d}"
                interval = shape.kind_intervals_s.get(kind.name, shape.interval_s)
                phase = int(uniform(seed, "phase", tenant, equipment) * interval)
                devices.append(Device(tenant, f"site-{s}", equipment, kind, interval, phase))
    return tuple(devices)
