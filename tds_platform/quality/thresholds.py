"""Per-series quality thresholds: tds.metric_spec's own where set, the `TDS_QUALITY_*` defaults otherwise.

The checks and the quality alerts judge a series by the same limits; this module only reads them
and attaches them to a frame of series figures or gaps.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from tds_platform.quality.settings import QualitySettings
from tds_platform.quality.verdicts import SERIES_KEY

# Only series with a threshold of their own: the rest take the defaults.
OWN_THRESHOLDS = text("""
SELECT tenant, equipment, metric, min_coverage_pct, min_good_pct, max_gap_s
FROM tds.metric_spec
WHERE min_coverage_pct IS NOT NULL OR min_good_pct IS NOT NULL OR max_gap_s IS NOT NULL
""")

LIMIT_COLUMNS = ("min_coverage_pct", "min_good_pct", "max_gap_s")


def own_thresholds(conn: Connection) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(OWN_THRESHOLDS).mappings().all(), columns=[*SERIES_KEY, *LIMIT_COLUMNS])


def with_thresholds(frame: pd.DataFrame, own: pd.DataFrame, settings: QualitySettings) -> pd.DataFrame:
    """`frame` (keyed by tenant, equipment, metric) with each row's limits in LIMIT_COLUMNS."""
    merged = frame.merge(own, on=SERIES_KEY, how="left") if len(own) else frame.assign(
        **dict.fromkeys(LIMIT_COLUMNS, float("nan")))
    defaults = {"min_coverage_pct": settings.min_coverage_pct, "min_good_pct": settings.min_good_pct,
                "max_gap_s": settings.max_gap_s}
    return merged.astype(dict.fromkeys(LIMIT_COLUMNS, "float64")).fillna(defaults)
