from __future__ import annotations

import pytest
from pydantic import ValidationError

from tds_platform.simulate.settings import SimulatorSettings, parse_duration, parse_intervals


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("6h", 21600), ("1.5d", 129600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_says_what_to_write() -> None:
    with pytest.raises(ValueError, match=r"use e\.g\. 30s"):
        parse_duration("six hours")


def test_intervals_with_per_kind_overrides() -> None:
    assert parse_intervals("10s,meter=1m") == (10, {"meter": 60})
    assert parse_intervals("chiller=5s") == (10, {"chiller": 5})
    with pytest.raises(ValueError, match="unknown equipment kind 'pump'"):
        parse_intervals("pump=5s")
    with pytest.raises(ValueError, match="whole number of seconds"):
        parse_intervals("0.5s")


def test_environment_is_read_with_the_tds_simulate_prefix_and_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TDS_SIMULATE_HISTORY", "6h")
    monkeypatch.setenv("TDS_SIMULATE_TENANTS", "4")
    monkeypatch.setenv("TDS_SIMULATE_FAULTS", "demo")
    settings = SimulatorSettings(tenants=1)
    assert settings.history == 21600
    assert settings.tenants == 1
    assert settings.fault_rates().gap > 0


def test_explicit_fault_knobs_override_the_preset() -> None:
    rates = SimulatorSettings(faults="demo", gap_rate=1.0, gap_max="15m", duplicate_rate=0).fault_rates()
    assert (rates.gap, rates.gap_max_s, rates.duplicate) == (1.0, 900, 0)
    assert rates.malformed > 0
    assert SimulatorSettings().fault_rates().gap == 0


def test_fleet_shape_from_settings() -> None:
    shape = SimulatorSettings(tenants=3, sites=1, equipment=4, interval="5s,meter=30s").fleet_shape()
    assert (shape.tenants, shape.sites, shape.equipment, shape.interval_s) == (3, 1, 4, 5)
    assert shape.kind_intervals_s == {"meter": 30}


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        SimulatorSettings(interval="fast")
    with pytest.raises(ValidationError):
        SimulatorSettings(tenants=0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        SimulatorSettings(gap_rate=2).fault_rates()
