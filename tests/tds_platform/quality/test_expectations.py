"""The GX rollup suite over hand-made partitions: what each expectation catches, and rounding."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from tds_platform.quality.expectations import validate_rollup

BUCKET = datetime(2026, 3, 1, 10, tzinfo=UTC)


def _row(equipment: str = "e1", **figures: object) -> dict[str, object]:
    row: dict[str, object] = {"bucket": BUCKET, "tenant": "acme", "site": "p", "equipment": equipment,
                              "metric": "temp", "n": 3, "min": 1.0, "max": 3.0, "avg": 2.0, "sum": 6.0,
                              "valid_min": 0.0, "valid_max": 10.0}
    return row | figures


def _failed(*rows: dict[str, object]) -> dict[str, list[str]]:
    outcome = validate_rollup(pd.DataFrame(list(rows)), "telemetry_1m", max_offenders=5)
    return {e.expectation: [o["equipment"] for o in e.offenders] for e in outcome.failed}


def test_clean_partition_and_float_rounding_pass() -> None:
    # 0.1 three times: sum/n = 0.10000000000000002 > max 0.1, within the rounding allowance
    third = 0.30000000000000004 / 3
    assert _failed(_row(), _row("e2", min=0.1, max=0.1, avg=third, valid_min=None, valid_max=None)) == {}


def test_empty_partition_passes() -> None:
    outcome = validate_rollup(pd.DataFrame([_row()]).iloc[0:0], "telemetry_1h", max_offenders=5)
    assert outcome.success
    assert outcome.rows == 0


@pytest.mark.parametrize(("bad", "expectation"), [
    (_row("bad", tenant=None), "expect_column_values_to_not_be_null(column=tenant)"),
    (_row("bad", n=0), "expect_column_values_to_be_between(column=n, min_value=1.0)"),
    (_row("bad", min=2.5), "expect_column_pair_values_a_to_be_greater_than_b(column_A=avg_with_tolerance, "
                           "column_B=min, or_equal=True, ignore_row_if=either_value_is_missing)"),
    (_row("bad", max=1.5), "expect_column_pair_values_a_to_be_greater_than_b(column_A=max_with_tolerance, "
                           "column_B=avg, or_equal=True, ignore_row_if=either_value_is_missing)"),
    (_row("bad", min=-1.0), "expect_column_pair_values_a_to_be_greater_than_b(column_A=min, column_B=valid_min, "
                            "or_equal=True, ignore_row_if=either_value_is_missing)"),
    (_row("bad", max=11.0), "expect_column_pair_values_a_to_be_greater_than_b(column_A=valid_max, column_B=max, "
                            "or_equal=True, ignore_row_if=either_value_is_missing)"),
])
def test_each_expectation_names_its_offender(bad: dict[str, object], expectation: str) -> None:
    assert _failed(_row(), bad) == {expectation: ["bad"]}


def test_duplicate_keys_fail_uniqueness() -> None:
    failed = _failed(_row("dup"), _row("dup", n=4), _row("other"))
    assert failed == {"expect_compound_columns_to_be_unique(column_list=['bucket', 'tenant', 'equipment', 'metric'])":
                      ["dup", "dup"]}
