"""Writes one batch per transaction: binary COPY into staging, one idempotent insert, commit.

Readings are never updated or deleted here; a redelivered message lands as "duplicates", not as
an error. An error a message can cause (faults.message_fault) is raised as psycopg raised it, for
isolation.write_isolating_refusals to find that message; every other failure surfaces as
StoreUnavailableError, so the caller retries without acking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
import psycopg.errors
from psycopg.types.json import Jsonb

from ingest_stream.logs import first_line
from ingest_stream.records import CommandAck, DeadLetter, DeadLetterReason, Reading
from ingest_stream.store import sql
from ingest_stream.store.batch import Batch
from ingest_stream.store.copy_data import copy_data
from ingest_stream.store.faults import message_fault
from ingest_stream.store.registry import SeriesRegistry
from ingest_stream.store.stale_windows import DEFAULT_STALE_AFTER_HOURS, stale_before, stale_buckets

# Runs inside the batch transaction just before commit; raising aborts the commit (lease fencing).
Fence = Callable[[psycopg.Connection], None]

DEADLOCK_ATTEMPTS = 5

log = logging.getLogger("ingest_stream.store")


class StoreUnavailableError(Exception):
    """The database cannot be reached right now; retry the same batch later."""


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0
    events: int = 0
    acks: int = 0
    dead_letters: int = 0
    # Messages written as a dead letter instead of what they parsed to (their tenant's registry quota was
    # full), by position in the batch written.
    dead_lettered: dict[int, DeadLetter] = field(default_factory=dict)

    def __add__(self, other: WriteResult) -> WriteResult:
        """The sum of two writes of one batch (their positions must refer to it)."""
        return WriteResult(self.inserted + other.inserted, self.duplicates + other.duplicates,
                           self.events + other.events, self.acks + other.acks,
                           self.dead_letters + other.dead_letters, {**self.dead_lettered, **other.dead_lettered})

    def of_part(self, positions: Sequence[int]) -> WriteResult:
        """This result of writing `batch.part(positions)`, told in positions of `batch`."""
        dead_lettered = {positions[i]: letter for i, letter in self.dead_lettered.items()}
        return WriteResult(self.inserted, self.duplicates, self.events, self.acks, self.dead_letters, dead_lettered)


class Store(Protocol):
    def write(self, batch: Batch) -> WriteResult: ...

    def warm_up(self) -> None: ...

    def newest_reading_age_s(self) -> float | None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def latest_acks(acks: list[CommandAck]) -> list[CommandAck]:
    """One ack per command id (the newest): an upsert may not touch the same row twice."""
    newest: dict[tuple[str, str, str], CommandAck] = {}
    for ack in acks:
        key = (ack.tenant, ack.equipment, ack.cmd_id)
        if key not in newest or ack.ts >= newest[key].ts:
            newest[key] = ack
    return list(newest.values())


def _copy(cur: psycopg.Cursor[Any], statement: str, data: bytes) -> None:
    with cur.copy(statement) as copy:
        copy.write(data)


class TelemetryStore:
    def __init__(self, url: str, instance_id: str, fence: Fence | None = None,
                 last_seen_interval_s: float = 5.0, connect_timeout_s: int = 5,
                 idle_in_transaction_timeout_s: float | None = None, registry: SeriesRegistry | None = None,
                 stale_after_hours: int = DEFAULT_STALE_AFTER_HOURS) -> None:
        self.url = url
        self.stale_after_hours = stale_after_hours
        self.instance_id = instance_id
        self.fence = fence
        # With a fence, a process frozen between the fence's row lock and COMMIT would block the
        # next leader's lease takeover forever; the server ends such a session after this long.
        self.idle_in_transaction_timeout_s = idle_in_transaction_timeout_s
        # Shared by a writer's connections, so a series one of them registered costs the others nothing.
        self.registry = SeriesRegistry() if registry is None else registry
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection | None = None
        self._last_seen_interval_s = last_seen_interval_s
        self._last_seen: dict[tuple[str, str], tuple[datetime, float]] = {}
        self._expect_duplicates = False

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s,
                                   application_name=f"tds-ingest:{self.instance_id}")
            conn.execute(sql.STAGING)
            if self.idle_in_transaction_timeout_s is not None:
                timeout_ms = int(self.idle_in_transaction_timeout_s * 1000)
                conn.execute(sql.SET_IDLE_IN_TRANSACTION_TIMEOUT, (f"{timeout_ms}ms",))
            # A new session may reach a restored or failed-over database: resolve every series afresh.
            self.registry.forget()
            self._conn = conn
        return self._conn

    def warm_up(self) -> None:
        """Connect now, so the first batch on this connection does not pay for it under live load (idle
        machine: 25 ms for a cold first batch of 200 readings, 9 ms warmed with a shared registry). A
        database that is down now is retried with the first batch, as always."""
        try:
            self._connection()
        except psycopg.Error:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def write(self, batch: Batch) -> WriteResult:
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return self._write(batch)
            except psycopg.errors.DeadlockDetected:
                # Two of the writer's connections landed the same readings in opposite orders (a
                # redelivery racing its original). The database rolled this batch back; the other
                # one commits, and the retry finds its rows there and lands only what is new.
                log.info("batch deadlocked with another write; retrying", extra={"attempt": attempt})
            except psycopg.Error as exc:
                if message_fault(exc) is not None:
                    raise
                if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
                    self.close()
                raise StoreUnavailableError(first_line(exc)) from exc
        raise StoreUnavailableError(f"the batch deadlocked {DEADLOCK_ATTEMPTS} times in a row")

    def _write(self, batch: Batch) -> WriteResult:
        conn = self._connection()
        # Before the batch transaction: new series are registered (and committed) on their own, and a
        # message over its tenant's registry quota becomes a dead letter.
        resolved = self.registry.resolve(conn, batch)
        readings = resolved.readings
        result = WriteResult(dead_lettered={
            position: DeadLetter(batch.sources[position].topic, batch.sources[position].payload,
                                 DeadLetterReason.REGISTRY_QUOTA, detail)
            for position, detail in resolved.refused.items()})
        with conn.transaction(), conn.cursor() as cur:
            if readings:
                result.inserted = self._land(conn, cur, copy_data(resolved.series_ids, readings), len(readings))
                result.duplicates = len(readings) - result.inserted
                stale = stale_buckets(readings, stale_before(datetime.now(UTC), self.stale_after_hours))
                if stale and result.inserted:
                    cur.execute(sql.RECORD_STALE_WINDOWS, stale)
            events = batch.events()
            if events:
                cur.executemany(sql.INSERT_EVENT, [(e.ts, e.tenant, e.site, e.equipment, e.type, e.severity,
                                                    Jsonb(e.data)) for e in events])
                result.events = len(events)
            acks = latest_acks(batch.acks())
            if acks:
                cur.executemany(sql.UPSERT_ACK, [(a.tenant, a.equipment, a.cmd_id, a.status, a.detail, a.ts)
                                                 for a in acks])
                result.acks = len(acks)
            dead = batch.dead_letters() + list(result.dead_lettered.values())
            if dead:
                cur.executemany(sql.INSERT_DEAD_LETTER, [(d.topic, d.payload, d.reason.value, d.detail,
                                                          self.instance_id, d.key()) for d in dead])
                result.dead_letters = len(dead)
            if self.fence is not None:
                self.fence(conn)
        self._advance_last_seen(conn, readings)
        return result

    def _land(self, conn: psycopg.Connection, cur: psycopg.Cursor[Any], data: bytes, rows: int) -> int:
        """Insert what is new of these `rows` readings (binary COPY `data`); returns how many rows that was.

        Straight COPY into the table costs the database about half of staging plus INSERT ... ON
        CONFLICT, and nearly every batch is all new. It runs in a savepoint: a reading that is there
        already (a redelivery, a device's re-send) fails it, and the batch lands through staging,
        which skips duplicates. Duplicates come in runs (a redelivered window, a resent buffer), so
        after one the writer keeps to staging until a batch lands without any."""
        if not self._expect_duplicates:
            try:
                with conn.transaction():
                    _copy(cur, sql.COPY_READINGS, data)
                return rows
            except psycopg.errors.UniqueViolation:
                self._expect_duplicates = True
        _copy(cur, sql.COPY_STAGING, data)
        cur.execute(sql.LAND_READINGS)
        self._expect_duplicates = cur.rowcount < rows
        return cur.rowcount

    def _advance_last_seen(self, conn: psycopg.Connection, readings: list[Reading]) -> None:
        """Keep tds.equipment.last_seen current, at most once per interval per equipment."""
        now = time.monotonic()
        newest: dict[tuple[str, str], datetime] = {}
        for r in readings:
            key = (r.tenant, r.equipment)
            if key not in newest or r.ts > newest[key]:
                newest[key] = r.ts
        due = []
        for key, ts in newest.items():
            seen = self._last_seen.get(key)
            if seen is None or (ts > seen[0] and now - seen[1] >= self._last_seen_interval_s):
                due.append((key, ts))
                self._last_seen[key] = (ts, now)
        if due:
            due.sort()
            conn.execute(sql.ADVANCE_LAST_SEEN, ([k[0] for k, _ in due], [k[1] for k, _ in due],
                                                 [ts for _, ts in due]))

    def ping(self) -> None:
        """Raises if the database cannot be reached now (health thread; own short connection)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=2) as conn:
            conn.execute("SELECT 1")

    def newest_reading_age_s(self) -> float | None:
        """Seconds since the newest landed reading, on a connection of its own (health thread)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=2) as conn:
            row = conn.execute(sql.NEWEST_READING_AGE).fetchone()
        return None if row is None or row[0] is None else float(row[0])


class DryRunStore:
    """--dry-run: everything is parsed and validated, nothing is written."""

    def write(self, batch: Batch) -> WriteResult:
        return WriteResult(inserted=len(batch.readings()), events=len(batch.events()),
                           acks=len(latest_acks(batch.acks())), dead_letters=len(batch.dead_letters()))

    def newest_reading_age_s(self) -> float | None:
        return None

    def warm_up(self) -> None:
        return None

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None
