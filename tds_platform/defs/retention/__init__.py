"""Retention in Dagster: the `apply_retention` job and its daily schedule.

The policy and the deletes are `tds_platform.retention`; nothing newer than the cutoff is touched.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.retention.jobs import build_retention_job, build_retention_schedule
from tds_platform.retention.policy import RetentionSettings


def build_defs(retention: RetentionSettings) -> dg.Definitions:
    job = build_retention_job(retention)
    return dg.Definitions(jobs=[job], schedules=[build_retention_schedule(job)])
