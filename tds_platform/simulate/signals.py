"""Realistic, deterministic signals: what each kind of equipment measures at a simulated instant.

Values are pure functions of (seed, device, time) — daily cycles, slow drift and per-tick noise —
so history and real time agree to the byte; this module must never keep state or inject faults.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from tds_platform.simulate.fleet import CHILLER, METER, Device, ValueType
from tds_platform.simulate.randomness import draws, gaussian

Value = float | bool

DAY_S = 86_400.0
# Counters and slow components are measured from a fixed origin, so any run sees the same curve.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
# The fleet's local time (Brazil, UTC-3): equipment follows the working day, not UTC.
LOCAL_OFFSET_S = -3 * 3600.0


def local_hour(t: float) -> float:
    return ((t + LOCAL_OFFSET_S) % DAY_S) / 3600.0


def daily(t: float, peak_hour: float) -> float:
    """A daily cycle in [-1, 1] that peaks at `peak_hour` local time."""
    return math.cos(2.0 * math.pi * (local_hour(t) - peak_hour) / 24.0)


def wander(t: float, period_s: float, phase: float) -> float:
    """A slow component in [-1, 1] (sensor drift, load trends) over days rather than hours."""
    return math.sin(2.0 * math.pi * (t - EPOCH) / period_s + phase)


def _traits(seed: int, device: Device) -> tuple[float, ...]:
    return draws(seed, "traits", device.tenant, device.equipment)


def _noise(seed: int, device: Device, t: float) -> list[float]:
    u = draws(seed, "noise", device.tenant, device.equipment, int(t))
    return [gaussian(u[i], u[i + 1]) for i in range(0, 8, 2)]


def chiller_running(seed: int, device: Device, t: float) -> bool:
    """On through the working day (shifted per chiller), with an occasional 15-minute trip."""
    shift = (_traits(seed, device)[0] - 0.5) * 2.0
    hour = local_hour(t)
    if not 6.0 + shift <= hour < 22.0 + shift:
        return False
    return draws(seed, "trip", device.tenant, device.equipment, int(t // 900))[0] >= 0.03


def chiller(seed: int, device: Device, t: float) -> dict[str, Value]:
    tr = _traits(seed, device)
    setpoint, load_base, current_scale = 6.5 + tr[1], 0.45 + 0.2 * tr[2], 0.8 + 0.4 * tr[3]
    drift = wander(t, (2.0 + 8.0 * tr[4]) * DAY_S, 2.0 * math.pi * tr[5])
    load = min(1.0, max(0.05, load_base + 0.3 * daily(t, 15.0) + 0.08 * wander(t, 1.5 * DAY_S, tr[6])))
    n = _noise(seed, device, t)
    running = chiller_running(seed, device, t)
    if running:
        leaving = setpoint + 0.8 * load - 0.3 + 0.15 * drift + 0.08 * n[0]
        entering = leaving + 5.2 * load + 0.1 * n[1]
        current = current_scale * (35.0 + 110.0 * load) + 1.5 * n[2]
        pressure = 4.2 + 0.9 * load + 0.04 * n[3]
    else:
        ambient = 24.0 + 5.0 * daily(t, 15.0) + 1.5 * drift
        leaving = 0.4 * setpoint + 0.6 * ambient + 0.08 * n[0]
        entering = leaving + 0.4 + 0.1 * n[1]
        current = max(0.0, 0.4 + 0.1 * n[2])
        pressure = 3.1 + 0.03 * n[3]
    return {
        "temp_agua_saida": leaving, "temp_agua_entrada": entering,
        "corrente": current, "pressao": pressure, "running": running,
    }


def _meter_terms(seed: int, device: Device) -> tuple[float, float, float, float, float]:
    tr = _traits(seed, device)
    base_kw = 20.0 + 180.0 * tr[0]
    start_kwh = 10_000.0 + 40_000.0 * tr[1]
    trend_period = (3.0 + 6.0 * tr[2]) * DAY_S
    # Phase that puts the daily peak at 15:00 local time.
    daily_phase = 2.0 * math.pi * ((EPOCH + LOCAL_OFFSET_S) / DAY_S - 15.0 / 24.0) + math.pi / 2
    return base_kw, start_kwh, trend_period, daily_phase, 2.0 * math.pi * tr[3]


def meter(seed: int, device: Device, t: float) -> dict[str, Value]:
    """Power is a smooth positive curve plus noise; energy is its exact integral, so it never goes back."""
    base_kw, start_kwh, trend_period, daily_phase, trend_phase = _meter_terms(seed, device)
    wd, ww, tau = 2.0 * math.pi / DAY_S, 2.0 * math.pi / trend_period, t - EPOCH

    def power(x: float) -> float:
        return base_kw * (0.6 + 0.3 * math.sin(wd * x + daily_phase) + 0.1 * math.sin(ww * x + trend_phase))

    def energy_kws(x: float) -> float:
        daily_part = 0.3 / wd * math.cos(wd * x + daily_phase)
        return base_kw * (0.6 * x - daily_part - 0.1 / ww * math.cos(ww * x + trend_phase))

    return {
        "energia_kwh": start_kwh + (energy_kws(tau) - energy_kws(0.0)) / 3600.0,
        "potencia_kw": max(0.0, power(tau) + 0.02 * base_kw * _noise(seed, device, t)[0]),
    }


MODELS: Mapping[str, Callable[[int, Device, float], dict[str, Value]]] = {
    CHILLER.name: chiller,
    METER.name: meter,
}


def measure(seed: int, device: Device, tick: int) -> dict[str, Value]:
    """The metrics due on this tick (a tick is a whole number of seconds), rounded as devices send them."""
    raw = MODELS[device.kind.name](seed, device, float(tick))
    index = (tick - device.phase_s) // device.interval_s
    out: dict[str, Value] = {}
    for metric in device.kind.metrics:
        if index % metric.every:
            continue
        value = raw[metric.name]
        out[metric.name] = bool(value) if metric.type is ValueType.BOOL else round(float(value), metric.decimals)
    return out
