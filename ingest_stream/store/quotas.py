"""Per-tenant hourly quotas on new equipment and new series: which messages of a batch may register theirs.

Pure: what each tenant registered in the last hour comes in, the refused messages go out. Without a
bound one device account could invent equipment and metrics without end, and downstream each new
series becomes rollup rows, quality checks, gaps, alerts and backfill runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

EquipmentKey = tuple[str, str]
SeriesKey = tuple[str, str, str]


@dataclass(frozen=True)
class RegistryQuota:
    """How many new equipment and new series one tenant may register in any hour."""

    equipment_per_hour: int
    series_per_hour: int


@dataclass
class Registration:
    """What one message of a batch would add to the registry (at `position` in the batch)."""

    position: int
    tenant: str
    equipment: set[EquipmentKey] = field(default_factory=set)
    series: set[SeriesKey] = field(default_factory=set)


@dataclass
class _Budget:
    equipment: int
    series: int


def refusals(quota: RegistryQuota, wanted: Iterable[Registration],
             registered_last_hour: dict[str, tuple[int, int]]) -> dict[int, str]:
    """{batch position: why} for the messages whose new equipment or series do not fit their tenant's quota.

    `registered_last_hour` is tenant -> (equipment, series) already registered in the last hour. Messages
    are taken in batch order, whole: one that fits registers all it brings, one that does not registers
    nothing; what an earlier message of the batch registered costs a later one nothing.
    """
    budgets: dict[str, _Budget] = {}
    admitted_equipment: set[EquipmentKey] = set()
    admitted_series: set[SeriesKey] = set()
    refused: dict[int, str] = {}
    for registration in wanted:
        tenant = registration.tenant
        budget = budgets.get(tenant)
        if budget is None:
            equipment_used, series_used = registered_last_hour.get(tenant, (0, 0))
            budget = budgets[tenant] = _Budget(quota.equipment_per_hour - equipment_used,
                                               quota.series_per_hour - series_used)
        new_equipment = registration.equipment - admitted_equipment
        new_series = registration.series - admitted_series
        if len(new_equipment) > budget.equipment:
            refused[registration.position] = (
                f"tenant {tenant} registered its quota of {quota.equipment_per_hour} new equipment in the last "
                "hour (TDS_MAX_NEW_EQUIPMENT_PER_HOUR)")
        elif len(new_series) > budget.series:
            refused[registration.position] = (
                f"tenant {tenant} registered its quota of {quota.series_per_hour} new series in the last hour "
                "(TDS_MAX_NEW_SERIES_PER_HOUR)")
        else:
            budget.equipment -= len(new_equipment)
            budget.series -= len(new_series)
            admitted_equipment |= new_equipment
            admitted_series |= new_series
    return refused
