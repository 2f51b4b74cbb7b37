from __future__ import annotations

import itertools

import pytest

from tds_platform.simulate.faults import GAP_SLOT_S, FaultRates, FaultSchedule, Malformation, preset
from tds_platform.simulate.fleet import CHILLER, Device

DEVICE = Device("acme", "site-1", "s1-chiller-01", CHILLER, 10, 0)
T0 = 1_772_420_400
TICKS = range(T0, T0 + 6 * 3600, 10)


def test_every_fault_is_off_by_default() -> None:
    schedule = FaultSchedule(FaultRates(), seed=1)
    assert not any(schedule.silent(DEVICE, t) for t in TICKS)
    assert schedule.clock_offset_s(DEVICE) == 0
    assert all(schedule.message(DEVICE, t) == schedule.message(DEVICE, T0) for t in TICKS)
    assert not schedule.message(DEVICE, T0).malformed
    assert all(schedule.point(DEVICE, t, m).value is None for t in TICKS[:100] for m in CHILLER.metrics)


def silences(schedule: FaultSchedule, ticks: range) -> list[tuple[int, int]]:
    """(first silent tick, last silent tick) of each run of silence."""
    runs = []
    for silent, group in itertools.groupby(ticks, key=lambda t: schedule.silent(DEVICE, t)):
        if silent:
            members = list(group)
            runs.append((members[0], members[-1]))
    return runs


def test_gaps_are_contiguous_silences_of_the_configured_length() -> None:
    schedule = FaultSchedule(FaultRates(gap=1.0, gap_min_s=300, gap_max_s=900), seed=3)
    runs = silences(schedule, TICKS)
    assert 5 <= len(runs) <= 7  # one per hour-long slot (the edges may cut one)
    for first, last in runs[1:-1]:
        assert 300 - 10 <= last - first + 10 <= 900 + 10


def test_gap_rate_is_a_chance_per_device_and_hour() -> None:
    schedule = FaultSchedule(FaultRates(gap=0.3), seed=3)
    hours = 400
    with_gap = sum(schedule.gap_in_slot(DEVICE, slot) is not None for slot in range(hours))
    assert 0.2 * hours < with_gap < 0.4 * hours
    assert all(
        0 <= w[0] - slot * GAP_SLOT_S < GAP_SLOT_S
        for slot in range(hours) if (w := schedule.gap_in_slot(DEVICE, slot))
    )


def test_out_of_range_values_fall_outside_the_valid_range_and_spare_booleans() -> None:
    schedule = FaultSchedule(FaultRates(out_of_range=1.0), seed=1)
    for t in TICKS[:200]:
        for metric in CHILLER.metrics:
            value = schedule.point(DEVICE, t, metric).value
            if metric.name == "running":
                assert value is None
            else:
                assert value is not None
                assert not metric.valid_min <= value <= metric.valid_max


def test_bad_quality_flags_are_bad_or_uncertain() -> None:
    schedule = FaultSchedule(FaultRates(bad_quality=1.0), seed=1)
    flags = {schedule.point(DEVICE, t, CHILLER.metrics[0]).quality for t in TICKS[:200]}
    assert flags == {"bad", "uncertain"}


def test_message_faults_cover_every_malformation_and_bounded_lateness() -> None:
    schedule = FaultSchedule(FaultRates(malformed=1.0, duplicate=1.0, late=1.0, late_max_s=60), seed=1)
    faults = [schedule.message(DEVICE, t) for t in TICKS[:300]]
    assert {f.malformed for f in faults} == set(Malformation)
    assert all(f.duplicate for f in faults)
    assert all(1 <= f.late_s <= 60 for f in faults)


def test_skewed_clocks_are_bounded_and_in_both_directions() -> None:
    offsets = [
        FaultSchedule(FaultRates(skew=1.0, skew_max_s=120), seed=s).clock_offset_s(DEVICE) for s in range(100)
    ]
    assert all(1 <= abs(o) <= 121 for o in offsets)
    assert min(offsets) < 0 < max(offsets)


@pytest.mark.parametrize("bad", [{"gap": 1.5}, {"late": -0.1}, {"gap_min_s": 700, "gap_max_s": 600},
                                 {"gap_max_s": 7200}])
def test_impossible_rates_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match=r"gap|late"):
        FaultRates(**bad)


def test_presets() -> None:
    assert preset("none") == FaultRates()
    demo = preset("demo")
    assert min(demo.gap, demo.out_of_range, demo.bad_quality, demo.malformed, demo.duplicate, demo.late, demo.skew) > 0
    with pytest.raises(ValueError, match="unknown fault preset"):
        preset("chaos")
