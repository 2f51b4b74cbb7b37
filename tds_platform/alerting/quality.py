"""Quality incidents: coverage or good % under threshold over the judged hours, and long open gaps.

One incident per equipment and check (`quality_coverage`, `quality_good`, `quality_gap`), naming the
metrics that fail it, with thresholds from tds.metric_spec where set and `TDS_QUALITY_*` otherwise.
It only reads figures the quality run wrote (tds.quality_hourly) and each series' newest reading;
it must never resolve an equipment it could not judge, and resolves only after the hold (flapping).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from tds_platform.alerting.freshness import SeriesFreshness, newest_per_series
from tds_platform.alerting.model import Alert, Severity
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.quality.settings import QualitySettings
from tds_platform.time_windows import HOUR, Window, closed_window

COVERAGE_KIND = "quality_coverage"
GOOD_KIND = "quality_good"
GAP_KIND = "quality_gap"
KINDS = (COVERAGE_KIND, GOOD_KIND, GAP_KIND)

# Per series over the judged hours: coverage (hours with a known expected count, each capped at
# it, as coverage_pct is) and event-weighted good %, with the series' own thresholds if it has any.
FIGURES = text("""
SELECT q.tenant, q.equipment, q.metric,
       100 * sum(least(q.received, q.expected)) FILTER (WHERE q.expected > 0)
           / nullif(sum(q.expected) FILTER (WHERE q.expected > 0), 0) AS coverage_pct,
       100 * sum(q.good)::float8 / nullif(sum(q.received), 0) AS good_pct,
       coalesce(s.min_coverage_pct, :min_coverage_pct) AS min_coverage_pct,
       coalesce(s.min_good_pct, :min_good_pct) AS min_good_pct
FROM tds.quality_hourly q
LEFT JOIN tds.metric_spec s ON s.tenant = q.tenant AND s.equipment = q.equipment AND s.metric = q.metric
WHERE q.hour >= :since AND q.hour < :until
GROUP BY q.tenant, q.equipment, q.metric, s.min_coverage_pct, s.min_good_pct
""")

GAP_LIMITS = text("SELECT tenant, equipment, metric, coalesce(max_gap_s, :max_gap_s) AS max_gap_s FROM tds.metric_spec")


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One metric failing one check: its figure and the limit it broke."""

    metric: str
    value: float
    limit: float


def judged_window(now: datetime, hours: int) -> Window:
    """The `hours` closed hours before now: the ones the quality schedule keeps re-judging, so a
    backfill or late data inside them shows up in these figures within minutes."""
    return closed_window(now, HOUR, hours)


def describe(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M} UTC"


def key(kind: str, tenant: str, equipment: str) -> str:
    return f"{kind}:{tenant}:{equipment}"


def _metric_names(shortfalls: Sequence[Shortfall], shown: int = 3) -> str:
    """For a subject: a few names, then how many more (the message lists them all)."""
    names = [s.metric for s in shortfalls]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _metric_list(shortfalls: Sequence[Shortfall], what: str, unit: str) -> str:
    return ", ".join(f"{s.metric} {what}{s.value:.1f}{unit} (limit {s.limit:g}{unit})" for s in shortfalls)


def figure_alert(kind: str, tenant: str, equipment: str, shortfalls: Sequence[Shortfall], window: Window) -> Alert:
    what = "coverage" if kind == COVERAGE_KIND else "good readings"
    metrics = sorted(shortfalls, key=lambda s: s.metric)
    return Alert(
        kind=kind, severity=Severity.WARNING, dedup_key=key(kind, tenant, equipment),
        subject=f"{tenant}/{equipment}: {what} under threshold on {_metric_names(metrics)}",
        message=(f"{what} over {describe(window)}: {_metric_list(metrics, '', '%')}. "
                 + ("Missing readings: the gap backfill asks the device to resend them; `tds status` shows open gaps."
                    if kind == COVERAGE_KIND else
                    "Readings flagged bad/uncertain, not finite or outside metric_spec's valid range.")),
        details={"tenant": tenant, "equipment": equipment, "window_start": window.start.isoformat(),
                 "window_end": window.end.isoformat(),
                 "metrics": [{"metric": s.metric, "pct": round(s.value, 2), "threshold_pct": s.limit}
                             for s in metrics]},
    )


def gap_alert(tenant: str, equipment: str, shortfalls: Sequence[Shortfall], newest: datetime,
              settings: AlertSettings) -> Alert:
    metrics = sorted(shortfalls, key=lambda s: s.metric)
    critical = any(s.value > settings.gap_critical_factor * s.limit for s in metrics)
    return Alert(
        kind=GAP_KIND, severity=Severity.CRITICAL if critical else Severity.WARNING,
        dedup_key=key(GAP_KIND, tenant, equipment),
        subject=f"{tenant}/{equipment}: open gap longer than allowed on {_metric_names(metrics)}",
        message=(f"{_metric_list(metrics, 'silent for ', ' s')}; newest reading of the equipment "
                 f"{newest.isoformat()}. Once data resumes, the gap backfill asks the device to resend the gap."),
        details={"tenant": tenant, "equipment": equipment, "newest_reading": newest.isoformat(),
                 "metrics": [{"metric": s.metric, "silent_for_s": round(s.value, 1), "max_gap_s": s.limit}
                             for s in metrics]},
    )


@dataclass(frozen=True, slots=True)
class SeriesFigures:
    tenant: str
    equipment: str
    metric: str
    coverage_pct: float | None
    good_pct: float | None
    min_coverage_pct: float
    min_good_pct: float


def figure_shortfalls(figures: Iterable[SeriesFigures], kind: str
                      ) -> tuple[dict[tuple[str, str], list[Shortfall]], set[tuple[str, str]]]:
    """(tenant, equipment) -> its metrics under the check's threshold, and every equipment the check
    could judge (a figure that is unknown — no interval, no readings — judges nothing)."""
    failing: dict[tuple[str, str], list[Shortfall]] = {}
    judged: set[tuple[str, str]] = set()
    for f in figures:
        value, limit = ((f.coverage_pct, f.min_coverage_pct) if kind == COVERAGE_KIND else (f.good_pct, f.min_good_pct))
        if value is None:
            continue
        judged.add((f.tenant, f.equipment))
        if value < limit:
            failing.setdefault((f.tenant, f.equipment), []).append(Shortfall(f.metric, float(value), float(limit)))
    return failing, judged


def gap_shortfalls(series: Iterable[SeriesFreshness], limits: Mapping[tuple[str, str, str], float], now: datetime,
                   gap_factor: float) -> tuple[dict[tuple[str, str], list[Shortfall]], set[tuple[str, str]]]:
    """(tenant, equipment) -> its metrics silent for longer than their allowed gap (and longer than a
    gap at all: gap_factor x interval), and every equipment with a series whose interval is known."""
    failing: dict[tuple[str, str], list[Shortfall]] = {}
    judged: set[tuple[str, str]] = set()
    for s in series:
        limit = limits.get((s.tenant, s.equipment, s.metric))
        if limit is None or not s.interval_s:
            continue
        judged.add((s.tenant, s.equipment))
        silent_s = (now - s.newest).total_seconds()
        if silent_s > max(limit, gap_factor * s.interval_s):
            failing.setdefault((s.tenant, s.equipment), []).append(Shortfall(s.metric, silent_s, limit))
    return failing, judged


@dataclass
class QualityOutcome:
    opened: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    clearing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.opened)} quality alerts opened, {len(self.still_open)} ongoing, "
                f"{len(self.resolved)} resolved, {len(self.clearing)} clear but held")


class QualityWatch:
    def __init__(self, engine: Engine, service: AlertService, settings: AlertSettings,
                 quality: QualitySettings) -> None:
        self.engine = engine
        self.service = service
        self.settings = settings
        self.quality = quality

    def figures(self, window: Window) -> list[SeriesFigures]:
        with self.engine.connect() as conn:
            rows = conn.execute(FIGURES, {"since": window.start, "until": window.end,
                                          "min_coverage_pct": self.quality.min_coverage_pct,
                                          "min_good_pct": self.quality.min_good_pct}).all()
        return [SeriesFigures(r.tenant, r.equipment, r.metric, r.coverage_pct, r.good_pct, r.min_coverage_pct,
                              r.min_good_pct) for r in rows]

    def gap_limits(self) -> dict[tuple[str, str, str], float]:
        with self.engine.connect() as conn:
            rows = conn.execute(GAP_LIMITS, {"max_gap_s": self.quality.max_gap_s}).all()
        return {(r.tenant, r.equipment, r.metric): r.max_gap_s for r in rows}

    def tick(self, now: datetime) -> QualityOutcome:
        """One evaluation: open or update an alert per failing equipment and check, resolve the
        judged ones that stayed clear for the hold."""
        window = judged_window(now, self.quality.trailing_hours)
        figures = self.figures(window)
        series = newest_per_series(self.engine, now, timedelta(hours=self.settings.lookback_hours))
        newest = {(s.tenant, s.equipment): s.newest for s in series}
        outcome = QualityOutcome()
        for kind in KINDS:
            if kind == GAP_KIND:
                failing, judged = gap_shortfalls(series, self.gap_limits(), now, self.quality.gap_factor)
                alerts = [gap_alert(t, e, short, newest[(t, e)], self.settings) for (t, e), short in failing.items()]
            else:
                failing, judged = figure_shortfalls(figures, kind)
                alerts = [figure_alert(kind, t, e, short, window) for (t, e), short in failing.items()]
            self._apply(kind, alerts, judged, outcome)
        return outcome

    def _apply(self, kind: str, alerts: Sequence[Alert], judged: set[tuple[str, str]],
               outcome: QualityOutcome) -> None:
        failing = {alert.dedup_key for alert in alerts}
        for alert in alerts:
            (outcome.opened if self.service.open(alert) else outcome.still_open).append(alert.dedup_key)
        hold = timedelta(seconds=self.settings.resolve_hold_s)
        judged_keys = {key(kind, tenant, equipment) for tenant, equipment in judged}
        for dedup_key in sorted(self.service.store.open_keys(kind) - failing):
            if dedup_key not in judged_keys:
                continue  # no figures for it now (quality not run yet, data out of the window): keep it
            (outcome.resolved if self.service.resolve(dedup_key, hold) else outcome.clearing).append(dedup_key)
