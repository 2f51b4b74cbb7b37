"""Failed Dagster jobs as incidents: one per job, open while it keeps failing, resolved when it succeeds.

Only builds the alert and its key from what the run-status sensors hand over (job name, run id,
reason); it never looks at Dagster itself.
"""

from __future__ import annotations

from tds_platform.alerting.model import Alert, Severity

RUN_FAILURE_KIND = "run_failure"


def run_failure_key(job_name: str) -> str:
    """One incident per job: repeated failures of a job are the same incident until it succeeds."""
    return f"{RUN_FAILURE_KIND}:{job_name}"


def run_failure_alert(job_name: str, run_id: str, reason: str | None) -> Alert:
    return Alert(
        kind=RUN_FAILURE_KIND, severity=Severity.WARNING, dedup_key=run_failure_key(job_name),
        subject=f"Dagster job {job_name} failed",
        message=f"run {run_id} failed: {reason or 'see the run in the Dagster UI'}",
        details={"job": job_name, "run_id": run_id},
    )
