"""The series registry cache: (tenant, equipment, metric) -> series_id, learned from the database on first sight.

Resolving a batch costs no query when every series is known and every equipment reports from the site
on record, as nearly always. Otherwise, in one small transaction before the batch's own: series already
in the database are learned; new ones are inserted only where none exists, within their tenant's hourly
quota (an INSERT ... ON CONFLICT of known series consumed a series_id per row and batch: an equipment
that alternated sites burned the id space); a site change moves the equipment row, at most once a
minute per equipment. Rows are inserted in sorted order, so two writers meeting the same new device
never deadlock. Never deletes or renumbers anything.

The cache is only as true as the database it was learned from: a restore from a backup or a failover to
a replica that is behind rolls the registry back, and ids cached before would land readings under series
the database does not know (or, re-issued, under another equipment's). Both end every open session, so
each new connection forgets the cache (`forget`) and the first batches learn it again: nothing on the hot
path, one SELECT per batch with unknown series until it is warm.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import psycopg

from ingest_stream.records import Reading
from ingest_stream.store import sql
from ingest_stream.store.batch import Batch
from ingest_stream.store.quotas import EquipmentKey, Registration, RegistryQuota, SeriesKey, refusals

log = logging.getLogger("ingest_stream.registry")

# An equipment that keeps changing sites is recorded at most this often; readings land meanwhile.
SITE_CHANGE_EVERY_S = 60.0
# A tenant over its quota is logged at most this often (its refused messages are all dead letters).
QUOTA_LOG_EVERY_S = 60.0


@dataclass
class _Sighting:
    """What a batch brings: the series the cache does not know, and the site each equipment reports."""

    series: dict[SeriesKey, Reading] = field(default_factory=dict)  # first reading of each unknown series
    sites: dict[EquipmentKey, str] = field(default_factory=dict)  # the last site reported (never None)


@dataclass
class Resolved:
    """A batch's readings to land, the series_id of each, and the messages whose readings are left out."""

    readings: list[Reading]
    series_ids: list[int]
    # Batch position -> why its tenant's hourly quota had no room for the new equipment or series it brings.
    refused: dict[int, str] = field(default_factory=dict)


class SeriesRegistry:
    def __init__(self, quota: RegistryQuota | None = None) -> None:
        self.quota = quota
        self._series: dict[SeriesKey, int] = {}
        self._sites: dict[EquipmentKey, str | None] = {}  # as recorded in tds.equipment
        self._site_recorded_at: dict[EquipmentKey, float] = {}
        self._quota_logged_at: dict[str, float] = {}
        # Shared by a writer's connections: the known path reads without it, learning takes turns.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._series)

    def forget(self) -> None:
        """Drop everything learned: the database may be another one now (restored, failed over). New dicts,
        so a batch resolving on another connection keeps the snapshot it started from."""
        with self._lock:
            self._series = {}
            self._sites = {}
            self._site_recorded_at = {}

    def resolve(self, conn: psycopg.Connection, batch: Batch) -> Resolved:
        """The batch's readings and the series_id of each, in order. What the cache does not know is
        learned or registered first; a message whose new equipment or series its tenant's quota has no
        room for is refused, and its readings are left out (the batch itself is never changed)."""
        readings = batch.readings()
        series, sites = self._series, self._sites
        ids: list[int] = []
        for r in readings:
            series_id = series.get((r.tenant, r.equipment, r.metric))
            if series_id is None or (r.site is not None and sites.get((r.tenant, r.equipment), r.site) != r.site):
                break
            ids.append(series_id)
        else:
            return Resolved(readings, ids)
        with self._lock:  # learned and read under one lock: `forget` may not come between
            refused = self._learn(conn, batch)
            series = self._series
        if refused:
            readings = [r for position, parsed in enumerate(batch.parsed) if position not in refused
                        for r in parsed.readings]
        return Resolved(readings, [series[(r.tenant, r.equipment, r.metric)] for r in readings], refused)

    def _learn(self, conn: psycopg.Connection, batch: Batch) -> dict[int, str]:
        """Learn, register, refuse and record what `batch` brings; commits its own small transaction, so
        the cache only learns ids that are committed. Returns the refusals (batch position -> why)."""
        sighting = self._sighting(batch)
        if not sighting.series and not self._site_changes_due(sighting.sites):
            return {}  # an equipment flapping between sites, between two recordings: nothing to ask the database
        refused: dict[int, str] = {}
        with conn.transaction(), conn.cursor() as cur:
            if sighting.series:
                refused = self._learn_series(cur, batch, sighting)
            self._record_site_changes(cur, sighting.sites)
        return refused

    def _sighting(self, batch: Batch) -> _Sighting:
        sighting = _Sighting()
        for r in batch.readings():
            key = (r.tenant, r.equipment, r.metric)
            if key not in self._series:
                sighting.series.setdefault(key, r)
            if r.site is not None:
                sighting.sites[key[:2]] = r.site
        return sighting

    def _learn_series(self, cur: psycopg.Cursor, batch: Batch, sighting: _Sighting) -> dict[int, str]:
        keys = sorted(sighting.series)
        equipment_keys = sorted({key[:2] for key in keys})
        cur.execute(sql.SELECT_EQUIPMENT, _columns(equipment_keys, 2))
        on_record: dict[EquipmentKey, str | None] = {(t, e): site for t, e, site in cur.fetchall()}
        cur.execute(sql.SELECT_SERIES, _columns(keys, 3))
        units_to_fill = []
        for tenant, equipment, metric, series_id, unit in cur.fetchall():
            key = (tenant, equipment, metric)
            self._series[key] = series_id
            if unit is None and sighting.series[key].unit is not None:
                units_to_fill.append((*key, sighting.series[key].unit))
        if units_to_fill:
            cur.execute(sql.FILL_UNITS, _columns(units_to_fill, 4))
        for key, site in on_record.items():
            self._sites.setdefault(key, site)
        new = {key for key in keys if key not in self._series}
        return self._register(cur, batch, sighting, new, on_record) if new else {}

    def _register(self, cur: psycopg.Cursor, batch: Batch, sighting: _Sighting, new: set[SeriesKey],
                  on_record: dict[EquipmentKey, str | None]) -> dict[int, str]:
        """Insert the new series (and new equipment) of the messages their tenants' quotas admit; returns the
        refused messages (batch position -> why)."""
        wanted = self._registrations(batch, new, on_record)
        refused = self._refusals(cur, wanted)
        admitted = [w for w in wanted if w.position not in refused]
        series = sorted({key for w in admitted for key in w.series})
        if not series:
            return refused
        first = sighting.series
        sites: dict[EquipmentKey, str | None] = {}
        for key in series:
            sites.setdefault(key[:2], first[key].site)
        equipment = sorted({key for w in admitted for key in w.equipment})
        if equipment:
            cur.execute(sql.INSERT_EQUIPMENT, _columns([(*key, sites[key]) for key in equipment], 3))
        cur.execute(sql.INSERT_SERIES, _columns([(*key, first[key].unit) for key in series], 4))
        inserted = cur.fetchall()
        for tenant, equipment_id, metric, series_id in inserted:
            self._series[(tenant, equipment_id, metric)] = series_id
        raced = [key for key in series if key not in self._series]  # another writer inserted them just now
        if raced:
            cur.execute(sql.SELECT_SERIES, _columns(raced, 3))
            for tenant, equipment_id, metric, series_id, _unit in cur.fetchall():
                self._series[(tenant, equipment_id, metric)] = series_id
        for key in equipment:
            self._sites.setdefault(key, sites[key])
        return refused

    def _registrations(self, batch: Batch, new: set[SeriesKey],
                       on_record: dict[EquipmentKey, str | None]) -> list[Registration]:
        wanted = []
        for position, parsed in enumerate(batch.parsed):
            series = {(r.tenant, r.equipment, r.metric) for r in parsed.readings} & new
            if series:
                tenant = next(iter(series))[0]
                wanted.append(Registration(position, tenant, {key[:2] for key in series} - on_record.keys(),
                                           series))
        return wanted

    def _refusals(self, cur: psycopg.Cursor, wanted: list[Registration]) -> dict[int, str]:
        if self.quota is None or not wanted:
            return {}
        tenants = sorted({w.tenant for w in wanted})
        cur.execute(sql.REGISTERED_LAST_HOUR, (tenants,))
        used = {tenant: (int(equipment), int(series)) for tenant, equipment, series in cur.fetchall()}
        refused = refusals(self.quota, wanted, used)
        now = time.monotonic()
        for tenant in sorted({w.tenant for w in wanted if w.position in refused}):
            if now - self._quota_logged_at.get(tenant, -QUOTA_LOG_EVERY_S) >= QUOTA_LOG_EVERY_S:
                self._quota_logged_at[tenant] = now
                log.warning("a tenant reached its registry quota; its messages with new equipment or series go to "
                            "the DLQ (registry_quota)",
                            extra={"tenant": tenant, "refused_in_batch": sum(
                                1 for w in wanted if w.tenant == tenant and w.position in refused)})
        return refused

    def _site_changes_due(self, reported: dict[EquipmentKey, str]) -> list[EquipmentKey]:
        """Equipment reporting from another site than on record, not recorded in the last SITE_CHANGE_EVERY_S."""
        now = time.monotonic()
        return sorted(key for key in reported
                      if key in self._sites and self._sites[key] != reported[key]
                      and now - self._site_recorded_at.get(key, -SITE_CHANGE_EVERY_S) >= SITE_CHANGE_EVERY_S)

    def _record_site_changes(self, cur: psycopg.Cursor, reported: dict[EquipmentKey, str]) -> None:
        """Move equipment to the site it reports from now, at most once per SITE_CHANGE_EVERY_S each: the
        cache keeps the recorded site, so a flapping equipment is looked at again on its next batch."""
        due = self._site_changes_due(reported)
        if not due:
            return
        now = time.monotonic()
        cur.execute(sql.MOVE_EQUIPMENT, _columns([(*key, reported[key]) for key in due], 3))
        for key in due:
            log.info("equipment reports from another site; recorded", extra={
                "tenant": key[0], "equipment": key[1], "site_before": self._sites[key], "site": reported[key]})
            self._sites[key] = reported[key]
            self._site_recorded_at[key] = now


def _columns(rows: list[tuple], width: int) -> tuple[list, ...]:
    """Rows as `width` column arrays, for the unnest(...) statements."""
    return tuple([row[i] for row in rows] for i in range(width))
