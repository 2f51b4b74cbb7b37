"""A ground-truth fleet whose quality figures and gaps are known by construction.

Every number the tests assert is derived by hand in the comments next to the series below:
known intervals (registered and inferred), gaps (inside an hour, across an hour boundary, still
open), bad quality flags, out-of-range and non-finite values, resent duplicates, late data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from tds_platform.db.engine import engine_for

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)  # hour 11 is still running; hour 10 is complete


def at(hhmmss: str) -> datetime:
    h, m, s = (int(p) for p in hhmmss.split(":"))
    return T0 + timedelta(hours=h, minutes=m, seconds=s)


def every(start: str, end: str, step_s: float) -> list[datetime]:
    """Timestamps from start to end inclusive, step_s apart."""
    first, last = at(start), at(end)
    count = int((last - first).total_seconds() // step_s) + 1
    return [first + timedelta(seconds=step_s * k) for k in range(count)]


@dataclass(frozen=True)
class Series:
    tenant: str
    site: str
    equipment: str
    metric: str
    interval_s: float | None = None
    valid_min: float | None = None
    valid_max: float | None = None


EQUIPMENT = [("acme", "chiller-1", "plant-1"), ("acme", "pump-7", "plant-1"), ("acme", "meter-3", "plant-2"),
             ("globex", "chiller-1", "north")]

TEMP = Series("acme", "plant-1", "chiller-1", "temp", 10, 0, 50)
PRESSURE = Series("acme", "plant-1", "chiller-1", "pressure")
FLOW = Series("acme", "plant-1", "pump-7", "flow", 30)
SPEED = Series("acme", "plant-1", "pump-7", "speed")
PUMP_PRESSURE = Series("acme", "plant-1", "pump-7", "pressure", 10)
ENERGY = Series("acme", "plant-2", "meter-3", "energy", 60)
VOLTAGE = Series("acme", "plant-2", "meter-3", "voltage", 60)
STATUS = Series("acme", "plant-2", "meter-3", "status")
GLOBEX_TEMP = Series("globex", "north", "chiller-1", "temp", 10, 0, 50)

BAD, UNCERTAIN = 2, 1

# (ts, value, quality)
Reading = tuple[datetime, float, int]


def _good(stamps: Iterable[datetime], value: float = 20.0) -> list[Reading]:
    return [(ts, value, 0) for ts in stamps]


def _temp() -> list[Reading]:
    """10 s from 09:00 to 11:29:50, silent 10:20:00 -> 10:25:00 (29 missing): hour 10 receives 331.
    16 of hour 10's readings are not good: 6 bad, 4 uncertain, 3 above 50, one -1, NaN, +inf.
    10:05:00 sits exactly on valid_max and is good."""
    special = {at("10:01:00") + timedelta(seconds=10 * k): (20.0, BAD) for k in range(6)}
    special |= {at("10:02:00") + timedelta(seconds=10 * k): (20.0, UNCERTAIN) for k in range(4)}
    special |= {at("10:03:00") + timedelta(seconds=10 * k): (75.0, 0) for k in range(3)}
    special |= {at("10:04:00"): (-1.0, 0), at("10:04:10"): (math.nan, 0), at("10:04:20"): (math.inf, 0),
                at("10:05:00"): (50.0, 0)}
    stamps = [ts for ts in every("09:00:00", "11:29:50", 10) if not at("10:20:00") < ts < at("10:25:00")]
    return [(ts, *special.get(ts, (20.0, 0))) for ts in stamps]


def _speed() -> list[Reading]:
    """Hour 10 spacings alternate 10 s, 20 s (119 of each) -> median 15 s; then every 15 s."""
    first = [at("10:00:00") + timedelta(seconds=30 * k) for k in range(120)]
    second = [at("10:00:10") + timedelta(seconds=30 * k) for k in range(119)]
    return _good(sorted(first + second) + every("11:00:00", "11:29:45", 15))


READINGS: dict[Series, Callable[[], list[Reading]]] = {
    TEMP: _temp,
    PRESSURE: lambda: _good(every("08:00:00", "10:40:00", 60)),  # inferred 60 s; silent since 10:40: open gap
    FLOW: lambda: _good(every("10:15:00", "11:29:30", 30)),  # first reading ever at 10:15
    SPEED: _speed,
    PUMP_PRESSURE: lambda: _good(every("09:00:00", "10:55:00", 10) + every("11:10:00", "11:29:50", 10)),
    ENERGY: lambda: _good(every("09:00:00", "10:29:00", 60) + every("10:40:00", "11:29:00", 60)),  # 10:30-10:39 late
    VOLTAGE: lambda: _good(every("11:10:00", "11:29:00", 60)),  # starts in hour 11
    STATUS: lambda: [(at("10:05:00"), 1.0, 0)],  # one reading in 24 h: interval unknown
    GLOBEX_TEMP: lambda: _good(every("10:00:00", "11:29:50", 10)),
}
LATE_ENERGY: list[Reading] = _good(every("10:30:00", "10:39:00", 60))

REGISTER_EQUIPMENT = text("INSERT INTO tds.equipment (tenant, equipment, site) VALUES (:tenant, :equipment, :site)")
REGISTER_SERIES = text("""
INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s, valid_min, valid_max)
VALUES (:tenant, :equipment, :metric, :interval_s, :valid_min, :valid_max)
RETURNING series_id
""")
# The writer's idempotent landing: a resent reading is absorbed, never doubled.
LAND = text("""
INSERT INTO tds.telemetry_raw (series_id, ts, value, quality)
VALUES (:series_id, :ts, :value, :quality)
ON CONFLICT (series_id, ts) DO NOTHING
""")


class Fleet:
    """The ground-truth fleet landed in one database; `at` and `now` give the tests its clock."""

    now = NOW
    at = staticmethod(at)

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = engine_for(url)
        self.series_ids: dict[Series, int] = {}

    def register(self) -> None:
        with self.engine.begin() as conn:
            for tenant, equipment, site in EQUIPMENT:
                conn.execute(REGISTER_EQUIPMENT, {"tenant": tenant, "equipment": equipment, "site": site})
            for s in READINGS:
                self.series_ids[s] = conn.execute(REGISTER_SERIES, {
                    "tenant": s.tenant, "equipment": s.equipment, "metric": s.metric,
                    "interval_s": s.interval_s, "valid_min": s.valid_min, "valid_max": s.valid_max,
                }).scalar_one()

    def land_late_energy(self) -> None:
        """The ten readings meter-3/energy was missing from 10:30 to 10:39, arriving late."""
        self.land(ENERGY, LATE_ENERGY)

    def land_pressure(self, start: str, end: str) -> None:
        """chiller-1/pressure reports again, every 60 s from start to end."""
        self.land(PRESSURE, _good(every(start, end, 60)))

    @property
    def series_ids_by_name(self) -> dict[tuple[str, str], int]:
        """series_id by (equipment, metric), for acme's series."""
        return {(s.equipment, s.metric): i for s, i in self.series_ids.items() if s.tenant == "acme"}

    def land(self, series: Series, readings: list[Reading]) -> None:
        with self.engine.begin() as conn:
            conn.execute(LAND, [{"series_id": self.series_ids[series], "ts": ts, "value": v, "quality": q}
                                for ts, v, q in readings])


@pytest.fixture
def fleet(any_database: str) -> Fleet:
    fleet = Fleet(any_database)
    fleet.register()
    for series, readings in READINGS.items():
        fleet.land(series, readings())
    fleet.land(TEMP, _temp()[:100])  # a device resending history: absorbed, counts unchanged
    return fleet
