from __future__ import annotations

from tds_platform.simulate.buffer import DeviceBuffer
from tds_platform.simulate.fleet import CHILLER, METER

T0 = 1_772_420_400.0


def filled(kind=METER, span_s: float = 3600, ticks: int = 100) -> DeviceBuffer:
    buffer = DeviceBuffer(kind, span_s, started_at=T0)
    for i in range(ticks):
        values = {"potencia_kw": float(i)} | ({"energia_kwh": 1000.0 + i} if i % 6 == 0 else {})
        buffer.add(T0 + 10 * i, values, {"potencia_kw": "bad"} if i == 3 else {})
    return buffer


def test_window_is_half_open_and_in_time_then_metric_order() -> None:
    points = filled().between(T0 + 50, T0 + 70)
    assert [(p.ts - T0, p.metric.name, p.value) for p in points] == [
        (50, "potencia_kw", 5.0), (60, "energia_kwh", 1006.0), (60, "potencia_kw", 6.0),
    ]


def test_metric_filter_and_quality_survive() -> None:
    buffer = filled()
    assert {p.metric.name for p in buffer.between(T0, T0 + 1000, frozenset({"energia_kwh"}))} == {"energia_kwh"}
    assert [p.quality for p in buffer.between(T0 + 30, T0 + 40)] == ["bad"]
    assert len(buffer) == 100 + 17


def test_booleans_come_back_as_booleans() -> None:
    buffer = DeviceBuffer(CHILLER, 3600, T0)
    buffer.add(T0, {"running": True, "corrente": 12.5}, {})
    by_name = {p.metric.name: p.value for p in buffer.between(T0, T0 + 1)}
    assert by_name == {"corrente": 12.5, "running": True}
    assert by_name["running"] is True


def test_buffer_is_bounded_in_time_and_says_what_it_covers() -> None:
    buffer = filled(span_s=300, ticks=1000)
    newest = T0 + 9990
    assert len(buffer) <= 2 * (300 / 10) * 1.2
    assert buffer.covers_from > newest - 2 * 300
    assert buffer.between(T0, newest - 400) == []
    assert buffer.covers(newest - 200, newest, now=newest)
    assert not buffer.covers(newest - 3000, newest, now=newest)  # evicted
    assert not buffer.covers(newest - 200, newest + 60, now=newest)  # the future is not produced yet


def test_a_fresh_buffer_covers_only_from_its_start() -> None:
    buffer = filled(ticks=10)
    assert buffer.covers(T0, T0 + 90, now=T0 + 90)
    assert not buffer.covers(T0 - 60, T0 + 90, now=T0 + 90)
