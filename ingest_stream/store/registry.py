"""The series registry cache: (tenant, equipment, metric) -> series_id, filled on first sight.

Resolving a batch costs no query when every series is known; new ones are upserted set-based,
in sorted order so two writers meeting the same new device never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ingest_stream.records import Reading
from ingest_stream.store import sql

SeriesKey = tuple[str, str, str]


class SeriesRegistry:
    def __init__(self) -> None:
        self._series: dict[SeriesKey, int] = {}
        self._sites: dict[tuple[str, str], str | None] = {}

    def __len__(self) -> int:
        return len(self._series)

    def ids(self, conn: psycopg.Connection, readings: Sequence[Reading]) -> list[int]:
        """The series_id of each reading, in order; series not seen before (or equipment reporting from a
        new site) are registered first. One pass when everything is known, as it nearly always is."""
        series, sites = self._series, self._sites
        ids: list[int] = []
        unknown: dict[SeriesKey, Reading] = {}
        for r in readings:
            key = (r.tenant, r.equipment, r.metric)
            series_id = series.get(key)
            if series_id is None or sites.get(key[:2], r.site) != r.site:
                unknown.setdefault(key, r)
                series_id = 0
            ids.append(series_id)
        if not unknown:
            return ids
        self._register(conn, unknown)
        return [series[(r.tenant, r.equipment, r.metric)] for r in readings]

    def _register(self, conn: psycopg.Connection, unknown: dict[SeriesKey, Reading]) -> None:
        """Upsert these series (and their equipment) and learn their ids; commits its own small transaction.

        Runs before the batch transaction: registry rows are harmless if that batch then fails,
        and the cache only learns ids that are committed.
        """
        keys = sorted(unknown)
        equipment = sorted({(t, e): unknown[(t, e, m)].site for t, e, m in keys}.items())
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.UPSERT_EQUIPMENT, ([k[0] for k, _ in equipment], [k[1] for k, _ in equipment],
                                               [site for _, site in equipment]))
            cur.execute(sql.UPSERT_METRIC_SPEC, ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                                                 [unknown[k].unit for k in keys]))
            cur.execute(sql.SELECT_SERIES, ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]))
            found = cur.fetchall()
        for tenant, equipment_id, metric, series_id in found:
            self._series[(tenant, equipment_id, metric)] = series_id
        for (tenant, equipment_id), site in equipment:
            self._sites[(tenant, equipment_id)] = site
