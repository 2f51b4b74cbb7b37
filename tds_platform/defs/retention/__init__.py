"""Retention: per-table policy, drop_chunks or batched deletes, the `apply_retention` job and schedule.

This package only removes rows older than the policy; it never touches rows newer than the cutoff.
"""

from __future__ import annotations

import dagster as dg

from tds_platform.defs.retention.jobs import build_retention_job, build_retention_schedule
from tds_platform.defs.retention.policy import RetentionSettings

apply_retention_job = build_retention_job(RetentionSettings())

defs = dg.Definitions(jobs=[apply_retention_job], schedules=[build_retention_schedule(apply_retention_job)])
