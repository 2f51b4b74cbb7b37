"""DLQ growth: too many dead letters in a recent window is one incident until it calms down.

A growing dead-letter table means a device, an adapter or a topic template is wrong; this
detector only counts and reports — it never touches the dead letters themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from tds_platform.alerting.model import Alert, Severity
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings

DLQ_GROWTH_KEY = "dlq_growth"

RECENT_BY_REASON = text("""
SELECT reason, count(*) AS n FROM tds.dlq
WHERE received_at > now() - make_interval(secs => :window_s)
GROUP BY reason ORDER BY n DESC, reason
""")


@dataclass(frozen=True)
class DlqGrowth:
    total: int
    by_reason: dict[str, int]

    def summary(self) -> str:
        return f"{self.total} dead letters in the window ({', '.join(f'{r} {n}' for r, n in self.by_reason.items())})"


def growth_alert(growth: DlqGrowth, settings: AlertSettings) -> Alert:
    reasons = ", ".join(f"{reason} {count}" for reason, count in growth.by_reason.items())
    return Alert(
        kind="dlq_growth", severity=Severity.WARNING, dedup_key=DLQ_GROWTH_KEY,
        subject=f"{growth.total} dead letters in the last {settings.dlq_window_minutes:g} minutes",
        message=(f"By reason: {reasons}. Inspect with `tds dlq list`; after fixing the device, topic template or "
                 "adapter, `tds dlq replay` lands what now parses."),
        details={"total": growth.total, "by_reason": growth.by_reason},
    )


class DlqGrowthWatch:
    def __init__(self, engine: Engine, service: AlertService, settings: AlertSettings) -> None:
        self.engine = engine
        self.service = service
        self.settings = settings

    def measure(self) -> DlqGrowth:
        with self.engine.connect() as conn:
            rows = conn.execute(RECENT_BY_REASON, {"window_s": self.settings.dlq_window_minutes * 60}).all()
        by_reason = {str(reason): int(n) for reason, n in rows}
        return DlqGrowth(total=sum(by_reason.values()), by_reason=by_reason)

    def tick(self) -> DlqGrowth:
        growth = self.measure()
        if growth.total >= self.settings.dlq_threshold:
            self.service.open(growth_alert(growth, self.settings))
        else:
            self.service.resolve(DLQ_GROWTH_KEY)
        return growth
