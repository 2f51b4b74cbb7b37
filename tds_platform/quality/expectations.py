"""Great Expectations 1.x suite over one rollup partition: keys, counts, min <= avg <= max, valid range.

GX is driven directly (ephemeral context, pandas batch) because dagster-ge does not support GX
1.x; this module must never persist a GX project or reach the network (analytics are off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from tds_platform.quality.verdicts import SERIES_KEY, plain_value
from tds_platform.rollups.levels import LEVELS_BY_NAME

KEY_COLUMNS = ["bucket", *SERIES_KEY]
# avg is sum/n in floating point: three readings of 0.1 average to 0.10000000000000002 > max.
# Comparisons allow this much relative rounding, no more.
RELATIVE_TOLERANCE = 1e-9

_READ_PARTITION = """
SELECT v.bucket, v.tenant, v.site, v.equipment, v.metric, v.n, v.min, v.max, v.avg, v.sum,
       s.valid_min, s.valid_max
FROM tds.{view} v
LEFT JOIN tds.metric_spec s ON s.tenant = v.tenant AND s.equipment = v.equipment AND s.metric = v.metric
WHERE v.bucket >= :start AND v.bucket < :end
ORDER BY v.bucket, v.tenant, v.equipment, v.metric
"""
# The rollup levels are the fixed allow-list of views a partition may be read from.
READ_PARTITION = {view: text(_READ_PARTITION.format(view=view)) for view in LEVELS_BY_NAME}


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    success: bool
    unexpected_count: int
    offenders: list[dict[str, Any]]


@dataclass(frozen=True)
class SuiteOutcome:
    success: bool
    rows: int
    expectations: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


def read_partition(conn: Connection, view: str, start: datetime, end: datetime) -> pd.DataFrame:
    if view not in READ_PARTITION:
        raise ValueError(f"{view!r} is not a rollup view ({', '.join(LEVELS_BY_NAME)})")
    return pd.DataFrame(conn.execute(READ_PARTITION[view], {"start": start, "end": end}).mappings().all(),
                        columns=["bucket", "tenant", "site", "equipment", "metric", "n", "min", "max", "avg",
                                 "sum", "valid_min", "valid_max"])


def _with_tolerance(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the ordering expectations compare: avg and max nudged up by the rounding allowance."""
    numeric = frame.astype(dict.fromkeys(("min", "max", "avg", "valid_min", "valid_max"), "float64"))
    slack = RELATIVE_TOLERANCE * numeric[["min", "max", "avg"]].abs().max(axis=1).clip(lower=1.0)
    return numeric.assign(avg_with_tolerance=numeric["avg"] + slack, max_with_tolerance=numeric["max"] + slack)


def _suite(gx: Any, name: str) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=name)
    for column in KEY_COLUMNS:
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n", min_value=1))
    suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="avg_with_tolerance", column_B="min", or_equal=True, ignore_row_if="either_value_is_missing"))
    suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="max_with_tolerance", column_B="avg", or_equal=True, ignore_row_if="either_value_is_missing"))
    suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="min", column_B="valid_min", or_equal=True, ignore_row_if="either_value_is_missing"))
    suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="valid_max", column_B="max", or_equal=True, ignore_row_if="either_value_is_missing"))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS))
    return suite


def _describe(config: Any) -> str:
    arguments = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    return f"{config.type}({', '.join(f'{k}={v}' for k, v in arguments.items())})"


def validate_rollup(frame: pd.DataFrame, name: str, max_offenders: int) -> SuiteOutcome:
    """Run the rollup suite over one partition's rows; offenders are the failing rows' keys and figures."""
    import great_expectations as gx  # 5 s import: paid by the check that runs, not by loading definitions
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False)))
    batch_definition = (context.data_sources.add_pandas(name).add_dataframe_asset(name)
                        .add_batch_definition_whole_dataframe("partition"))
    data = _with_tolerance(frame.reset_index(drop=True))
    result = batch_definition.get_batch(batch_parameters={"dataframe": data}).validate(
        _suite(gx, name), result_format="COMPLETE")
    shown = [*KEY_COLUMNS, "n", "min", "avg", "max", "valid_min", "valid_max"]
    outcomes = []
    for r in result.results:
        rows = sorted(set(r.result.get("unexpected_index_list") or []))
        outcomes.append(ExpectationOutcome(
            expectation=_describe(r.expectation_config), success=bool(r.success),
            unexpected_count=int(r.result.get("unexpected_count") or 0),
            offenders=[{c: plain_value(data.at[i, c]) for c in shown} for i in rows[:max_offenders]],
        ))
    return SuiteOutcome(success=bool(result.success), rows=len(frame), expectations=outcomes)
