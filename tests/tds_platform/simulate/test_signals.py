from __future__ import annotations

import itertools
import math

import pytest

from tds_platform.simulate.fleet import CHILLER, METER, Device
from tds_platform.simulate.signals import local_hour, measure

# 2026-03-02 00:00 local time (UTC-3), a Monday.
MIDNIGHT_LOCAL = 1_772_420_400
DAY = 86_400
CH = Device("acme", "site-1", "s1-chiller-01", CHILLER, 10, 0)
MT = Device("acme", "site-1", "s1-meter-01", METER, 10, 0)


def day_of(device: Device, seed: int = 7) -> list[tuple[int, dict]]:
    return [(t, measure(seed, device, t)) for t in range(MIDNIGHT_LOCAL, MIDNIGHT_LOCAL + DAY, device.interval_s)]


def test_local_midnight_constant_is_right() -> None:
    assert local_hour(MIDNIGHT_LOCAL) == 0.0


def test_same_seed_same_values_other_seed_other_values() -> None:
    tick = MIDNIGHT_LOCAL + 12 * 3600
    assert measure(7, CH, tick) == measure(7, CH, tick)
    assert measure(7, CH, tick) != measure(8, CH, tick)


@pytest.mark.parametrize("device", [CH, MT], ids=["chiller", "meter"])
def test_a_day_without_faults_stays_inside_the_valid_ranges(device: Device) -> None:
    for _, values in day_of(device):
        for name, value in values.items():
            metric = device.kind.metric(name)
            assert metric.valid_min <= float(value) <= metric.valid_max, (name, value)
            assert math.isfinite(float(value))


def test_meter_energy_never_goes_back_and_matches_power() -> None:
    energy = [(t, v["energia_kwh"]) for t, v in day_of(MT) if "energia_kwh" in v]
    assert all(b > a for (_, a), (_, b) in itertools.pairwise(energy))
    mean_power = sum(v["potencia_kw"] for _, v in day_of(MT)) / (DAY / MT.interval_s)
    used = energy[-1][1] - energy[0][1]
    hours = (energy[-1][0] - energy[0][0]) / 3600
    assert used / hours == pytest.approx(mean_power, rel=0.05)


def test_energy_is_reported_on_every_sixth_tick_power_on_every_tick() -> None:
    day = day_of(MT)
    assert all("potencia_kw" in v for _, v in day)
    assert sum("energia_kwh" in v for _, v in day) == len(day) // 6


def test_chiller_follows_the_working_day() -> None:
    by_hour: dict[int, list[dict]] = {}
    for t, values in day_of(CH):
        by_hour.setdefault(int(local_hour(t)), []).append(values)
    night, afternoon = by_hour[3], by_hour[14]
    assert not any(v["running"] for v in night)
    assert all(v["corrente"] < 1.0 for v in night)
    assert sum(v["running"] for v in afternoon) > 0.8 * len(afternoon)
    running = [v for v in afternoon if v["running"]]
    assert all(v["temp_agua_entrada"] > v["temp_agua_saida"] for v in running)
    assert min(v["corrente"] for v in running) > 20


def test_signals_have_noise_and_a_daily_cycle() -> None:
    power = {int(local_hour(t)): v["potencia_kw"] for t, v in day_of(MT)}
    assert power[15] > power[3] * 1.3  # daily cycle peaks mid-afternoon
    consecutive = [v["potencia_kw"] for _, v in day_of(MT)[:30]]
    assert len(set(consecutive)) > 20  # noise: not a flat line
