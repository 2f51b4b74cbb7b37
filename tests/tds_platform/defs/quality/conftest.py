"""A two-equipment plant for the quality assets: one healthy, one with a long gap and bad readings.

hour 10:00-11:00 on 2026-03-01, judged at 11:30. acme/healthy/temp reports every 10 s all hour
(360 readings, all good). acme/faulty/temp reports every 10 s but is silent 10:20:00 -> 10:40:00
(1200 s gap, 119 readings missing: 241 received) and flags every other reading bad (121 good).
Both keep reporting until 11:30.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from tds_platform.db.engine import engine_for

HOUR_10 = datetime(2026, 3, 1, 10, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)

REGISTER = text("""
WITH e AS (INSERT INTO tds.equipment (tenant, equipment, site) VALUES ('acme', :equipment, 'plant-1'))
INSERT INTO tds.metric_spec (tenant, equipment, metric, expected_interval_s, valid_min, valid_max)
VALUES ('acme', :equipment, 'temp', 10, 0, 50)
RETURNING series_id
""")
LAND = text("INSERT INTO tds.telemetry_raw (series_id, ts, value, quality) VALUES (:series_id, :ts, :value, :quality)")


class Plant:
    """The plant in one database; `hour_10`, `now` and `partition` are its clock for the tests."""

    hour_10 = HOUR_10
    now = NOW
    partition = "2026-03-01-10:00"

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = engine_for(url)

    def add(self, equipment: str, *, silent: tuple[datetime, datetime] | None = None, bad_every: int = 0) -> None:
        stamps = [HOUR_10 - timedelta(minutes=10) + timedelta(seconds=10 * k) for k in range(6 * 100)]
        stamps = [ts for ts in stamps if ts < NOW and not (silent and silent[0] < ts < silent[1])]
        with self.engine.begin() as conn:
            series_id = conn.execute(REGISTER, {"equipment": equipment}).scalar_one()
            conn.execute(LAND, [{"series_id": series_id, "ts": ts, "value": 20.0,
                                 "quality": 2 if bad_every and k % bad_every else 0}
                                for k, ts in enumerate(stamps)])


@pytest.fixture
def plant(any_database: str) -> Plant:
    plant = Plant(any_database)
    plant.add("healthy")
    return plant


@pytest.fixture
def faulty_plant(plant: Plant) -> Plant:
    plant.add("faulty", silent=(HOUR_10 + timedelta(minutes=20), HOUR_10 + timedelta(minutes=40)), bad_every=2)
    return plant
