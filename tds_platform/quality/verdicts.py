"""Pass/fail verdicts over judged hours: coverage, good-percentage, long gaps, with the offenders.

Pure functions of frames and thresholds (a row's own limit in min_coverage_pct / min_good_pct /
max_gap_s when the frame has it, else the default), so a check's outcome is testable without
Dagster; they must never hide an offender's identity (tenant, equipment, metric) or its figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from tds_platform.quality.settings import QualitySettings

SERIES_KEY = ["tenant", "equipment", "metric"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def plain_value(value: Any) -> Any:
    """JSON-friendly: timestamps as ISO strings, missing as None, numpy scalars as Python ones."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _offenders(frame: pd.DataFrame, columns: list[str], limit: int) -> list[dict[str, Any]]:
    return [{c: plain_value(row[c]) for c in columns} for _, row in frame.head(limit).iterrows()]


def _equipment(frame: pd.DataFrame) -> list[str]:
    """The offending equipment as tenant/equipment, each once, sorted."""
    return sorted({f"{t}/{e}" for t, e in zip(frame["tenant"], frame["equipment"], strict=True)})


def _limits(frame: pd.DataFrame, column: str, default: float) -> pd.Series:
    """Each row's limit: its own (tds.metric_spec, attached by quality.thresholds) or the default."""
    if column not in frame:
        return pd.Series(default, index=frame.index, dtype="float64")
    return frame[column].astype("float64").fillna(default)


def _below(series: pd.DataFrame, column: str, limit_column: str, threshold: float, settings: QualitySettings,
           what: str) -> Verdict:
    judged = series[series[column].notna()]  # unknown (no interval, no readings) is not a failure of this check
    low = judged[judged[column].astype("float64") < _limits(judged, limit_column, threshold)]
    low = low.sort_values([column, *SERIES_KEY])
    equipment = _equipment(low)
    return Verdict(
        passed=low.empty,
        description=(f"all {len(judged)} series-hours have {what} >= their threshold (default {threshold:g}%)"
                     if low.empty else
                     f"{len(low)} of {len(judged)} series-hours have {what} below their threshold "
                     f"(default {threshold:g}%): " + ", ".join(equipment[: settings.max_offenders])),
        metadata={
            "threshold_pct": threshold,
            "series_hours_checked": len(judged),
            "offender_count": len(low),
            "offending_equipment": equipment[: settings.max_offenders],
            "offenders": _offenders(low.assign(**{limit_column: _limits(low, limit_column, threshold)}),
                                    ["hour", *SERIES_KEY, column, limit_column, "expected", "received", "good"],
                                    settings.max_offenders),
        },
    )


def coverage_verdict(series: pd.DataFrame, settings: QualitySettings) -> Verdict:
    return _below(series, "coverage_pct", "min_coverage_pct", settings.min_coverage_pct, settings, "coverage")


def good_verdict(series: pd.DataFrame, settings: QualitySettings) -> Verdict:
    return _below(series, "good_pct", "min_good_pct", settings.min_good_pct, settings, "good readings")


def long_gap_verdict(gaps: pd.DataFrame, settings: QualitySettings) -> Verdict:
    """Gaps found in the judged hours (each overlaps one of them) longer than their limit (the series'
    own, else the default); an open gap counts with its duration so far."""
    long = gaps[gaps["duration_s"].astype("float64") > _limits(gaps, "max_gap_s", settings.max_gap_s)]
    long = long.sort_values("duration_s", ascending=False)
    equipment = _equipment(long)
    return Verdict(
        passed=long.empty,
        description=(f"no gap longer than its limit (default {settings.max_gap_s:g} s) among {len(gaps)} found"
                     if long.empty else
                     f"{len(long)} gaps longer than their limit (default {settings.max_gap_s:g} s): "
                     + ", ".join(equipment[: settings.max_offenders])),
        metadata={
            "max_gap_s": settings.max_gap_s,
            "gaps_found": len(gaps),
            "offender_count": len(long),
            "offending_equipment": equipment[: settings.max_offenders],
            "offenders": _offenders(long.assign(open=long["gap_end"].isna()),
                                    [*SERIES_KEY, "gap_start", "gap_end", "duration_s", "open"],
                                    settings.max_offenders),
        },
    )
