"""The freshness watch: which equipment went silent, and the alerts that open and resolve with it.

An equipment is silent when every series it reports has been quiet for `silence_factor` expected
intervals — the interval the quality run judges its gaps by (`quality.intervals`), so a freshness
alert and a gap check never disagree about a series. It must never open a second alert for an
incident that is still open, nor resolve one whose equipment it cannot see (no data within the
lookback).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from tds_platform.alerting.model import Alert, Severity
from tds_platform.alerting.service import AlertService
from tds_platform.alerting.settings import AlertSettings
from tds_platform.quality.intervals import expected_intervals, judged_as_of

EQUIPMENT_KIND = "freshness"
FLEET_KIND = "fleet_silence"
FLEET_KEY = "fleet_silence"

# Newest reading per series by an index lookup (PK series_id, ts) limited to the lookback, so
# the watch stays cheap every minute.
NEWEST_PER_SERIES = text("""
SELECT s.series_id, s.tenant, s.equipment, s.metric, n.ts AS newest
FROM tds.metric_spec s
CROSS JOIN LATERAL (
    SELECT max(r.ts) AS ts FROM tds.telemetry_raw r
    WHERE r.series_id = s.series_id AND r.ts > :since
) n
WHERE n.ts IS NOT NULL
""")

ANY_SERIES = text("SELECT EXISTS (SELECT 1 FROM tds.metric_spec)")


@dataclass(frozen=True, slots=True)
class SeriesFreshness:
    tenant: str
    equipment: str
    newest: datetime
    interval_s: float | None
    metric: str = ""


@dataclass(frozen=True, slots=True)
class EquipmentFreshness:
    tenant: str
    equipment: str
    newest: datetime
    interval_s: float
    silent: bool

    @property
    def dedup_key(self) -> str:
        return equipment_key(self.tenant, self.equipment)


def newest_per_series(engine: Engine, now: datetime, lookback: timedelta) -> list[SeriesFreshness]:
    """Every series with a reading within `lookback` of `now`: its newest reading and its expected
    interval as of the last closed hour (remembered by the series_intervals asset, so a median is
    rarely computed here)."""
    with engine.connect() as conn:
        rows = conn.execute(NEWEST_PER_SERIES, {"since": now - lookback}).all()
        intervals = expected_intervals(conn, judged_as_of(now), [r.series_id for r in rows]).by_series
    return [SeriesFreshness(r.tenant, r.equipment, r.newest, intervals.get(r.series_id), r.metric) for r in rows]


def equipment_key(tenant: str, equipment: str) -> str:
    return f"{EQUIPMENT_KIND}:{tenant}:{equipment}"


def judge(series: Iterable[SeriesFreshness], now: datetime, silence_factor: float) -> list[EquipmentFreshness]:
    """Per equipment: silent only when all its series with a known interval are overdue.

    One quiet metric on a talking equipment is a gap (the quality layer's business), not silence.
    Equipment with no known interval at all cannot be judged and is left out.
    """
    by_equipment: dict[tuple[str, str], list[SeriesFreshness]] = {}
    for item in series:
        by_equipment.setdefault((item.tenant, item.equipment), []).append(item)
    judged = []
    for (tenant, equipment), items in sorted(by_equipment.items()):
        known = [s for s in items if s.interval_s is not None and s.interval_s > 0]
        if not known:
            continue
        silent = all(now - s.newest > timedelta(seconds=silence_factor * s.interval_s) for s in known)
        judged.append(EquipmentFreshness(
            tenant=tenant, equipment=equipment, newest=max(s.newest for s in items),
            interval_s=min(s.interval_s for s in known), silent=silent,
        ))
    return judged


def silence_alert(item: EquipmentFreshness, now: datetime) -> Alert:
    quiet = now - item.newest
    return Alert(
        kind=EQUIPMENT_KIND, severity=Severity.WARNING, dedup_key=item.dedup_key,
        subject=f"{item.tenant}/{item.equipment} is silent",
        message=(f"no reading since {item.newest.isoformat()} ({int(quiet.total_seconds())} s ago; "
                 f"expected every {item.interval_s:g} s)"),
        details={"tenant": item.tenant, "equipment": item.equipment, "newest_reading": item.newest.isoformat(),
                 "expected_interval_s": item.interval_s, "silent_for_s": round(quiet.total_seconds(), 1)},
    )


def fleet_alert(newest: datetime | None, settings: AlertSettings) -> Alert:
    since = newest.isoformat() if newest else f"more than {settings.lookback_hours:g} h"
    return Alert(
        kind=FLEET_KIND, severity=Severity.CRITICAL, dedup_key=FLEET_KEY,
        subject=f"no data from any equipment for {settings.fleet_silence_minutes:g} minutes",
        message=f"the newest reading in tds.telemetry is from {since}; is the stream writer or the broker down?",
        details={"newest_reading": newest.isoformat() if newest else None,
                 "threshold_minutes": settings.fleet_silence_minutes},
    )


@dataclass
class FreshnessOutcome:
    judged: int = 0
    silent: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    fleet_silent: bool = False

    def summary(self) -> str:
        fleet = "; NO DATA FROM ANYONE" if self.fleet_silent else ""
        return (f"{self.judged} equipment judged, {len(self.silent)} silent, "
                f"{len(self.opened)} alerts opened, {len(self.resolved)} resolved{fleet}")


class FreshnessWatch:
    def __init__(self, engine: Engine, service: AlertService, settings: AlertSettings) -> None:
        self.engine = engine
        self.service = service
        self.settings = settings

    def series(self, now: datetime) -> Sequence[SeriesFreshness]:
        return newest_per_series(self.engine, now, timedelta(hours=self.settings.lookback_hours))

    def tick(self, now: datetime) -> FreshnessOutcome:
        """One evaluation: open alerts for newly silent equipment, resolve those talking again."""
        series = self.series(now)
        outcome = FreshnessOutcome()
        open_keys = self.service.store.open_keys(EQUIPMENT_KIND)
        for item in judge(series, now, self.settings.silence_factor):
            outcome.judged += 1
            if item.silent:
                outcome.silent.append(item.dedup_key)
                if self.service.open(silence_alert(item, now)):
                    outcome.opened.append(item.dedup_key)
            elif item.dedup_key in open_keys and self.service.resolve(item.dedup_key):
                outcome.resolved.append(item.dedup_key)
        self._fleet(series, now, outcome)
        return outcome

    def _fleet(self, series: Sequence[SeriesFreshness], now: datetime, outcome: FreshnessOutcome) -> None:
        with self.engine.connect() as conn:
            if not conn.execute(ANY_SERIES).scalar():
                return  # nothing has ever reported: a fresh install is not an outage
        newest = max((s.newest for s in series), default=None)
        threshold = timedelta(minutes=self.settings.fleet_silence_minutes)
        outcome.fleet_silent = newest is None or now - newest > threshold
        if outcome.fleet_silent:
            if self.service.open(fleet_alert(newest, self.settings)):
                outcome.opened.append(FLEET_KEY)
        elif self.service.resolve(FLEET_KEY):
            outcome.resolved.append(FLEET_KEY)
