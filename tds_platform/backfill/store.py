"""The backfill's reads and writes: gaps and their series, the commands waiting for an answer, the
device's answer, what landed in a gap.

It writes only the `backfill_*` columns of `tds.gaps` and `tds.backfill_commands`; gap boundaries
belong to the quality run, and readings only ever arrive through the stream writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, INTEGER

from tds_platform.backfill.plan import GapJudgement, GapSpan, Outcome, Progress
from tds_platform.quality.intervals import expected_intervals
from tds_platform.time_windows import Window

_GAP_COLUMNS = """
    g.id, g.tenant, e.site, g.equipment, g.metric, s.series_id, g.gap_start, g.gap_end, g.cleared_at
FROM tds.gaps g
JOIN tds.metric_spec s ON s.tenant = g.tenant AND s.equipment = g.equipment AND s.metric = g.metric
JOIN tds.equipment e ON e.tenant = g.tenant AND e.equipment = g.equipment
"""

SELECT_GAPS = text(f"SELECT {_GAP_COLUMNS} WHERE g.id = ANY(:gap_ids) ORDER BY g.metric, g.gap_start, g.id").bindparams(
    bindparam("gap_ids", type_=ARRAY(BIGINT)))

# Gaps of the chosen series that the window touches (an open gap reaches up to now).
SELECT_GAPS_IN_WINDOW = text(f"""
SELECT {_GAP_COLUMNS}
WHERE g.tenant = :tenant AND g.equipment = :equipment AND (CAST(:metric AS text) IS NULL OR g.metric = :metric)
  AND g.cleared_at IS NULL AND g.gap_start < :window_end AND coalesce(g.gap_end, :now) > :window_start
ORDER BY g.metric, g.gap_start
""")

SELECT_SERIES = text("""
SELECT s.series_id, e.site
FROM tds.metric_spec s
JOIN tds.equipment e ON e.tenant = s.tenant AND e.equipment = s.equipment
WHERE s.tenant = :tenant AND s.equipment = :equipment AND (CAST(:metric AS text) IS NULL OR s.metric = :metric)
ORDER BY s.series_id
""")

# Gaps the new-gap sensor may request: never requested, still current, recent enough, and either
# closed or silent for long enough; minus those already requested whose run has not started yet.
# All of them for the `limit` equipments whose oldest such gap is oldest: the sensor batches an
# equipment's gaps together and requests at most `limit` runs, and each equipment makes at least
# one run, so the oldest runs are among these (reading only `limit` gaps could cut a batch short
# and ask the same device twice for one window). Oldest first, so a burst is worked through in order.
SELECT_REQUESTABLE = text("""
WITH requestable AS (
    SELECT g.id, g.tenant, g.equipment, g.gap_start, g.gap_end
    FROM tds.gaps g
    WHERE g.backfill_status = 'none' AND g.cleared_at IS NULL AND g.gap_start >= :since
      AND (g.gap_end IS NOT NULL OR g.gap_start <= :open_before)
      AND g.id <> ALL(:already)
),
oldest AS (
    SELECT tenant, equipment FROM requestable
    GROUP BY tenant, equipment
    ORDER BY min(gap_start), min(id)
    LIMIT :limit
)
SELECT r.id, r.tenant, r.equipment, r.gap_start, r.gap_end
FROM requestable r JOIN oldest o ON o.tenant = r.tenant AND o.equipment = r.equipment
ORDER BY r.gap_start, r.id
""").bindparams(bindparam("already", type_=ARRAY(BIGINT)))

# Of the gaps requested earlier, those whose run has not marked them yet (still 'none').
SELECT_WAITING = text("""
SELECT id FROM tds.gaps
WHERE id = ANY(:ids) AND backfill_status = 'none' AND cleared_at IS NULL AND gap_start >= :since
""").bindparams(bindparam("ids", type_=ARRAY(BIGINT)))

MARK_REQUESTED = text("""
UPDATE tds.gaps
SET backfill_status = 'requested', backfill_cmd_id = :cmd_id, backfill_from = :window_start,
    backfill_to = :window_end, backfill_requested_at = :now, backfill_finished_at = NULL, backfill_detail = NULL
WHERE id = ANY(:ids)
""").bindparams(bindparam("ids", type_=ARRAY(BIGINT)))

RECORD_OUTCOME = text("""
UPDATE tds.gaps
SET backfill_status = :status, backfill_finished_at = :now, backfill_detail = :detail
WHERE id = :gap_id AND backfill_cmd_id = :cmd_id
""")

SELECT_ANSWER = text("""
SELECT status, detail FROM tds.cmd_ack WHERE tenant = :tenant AND equipment = :equipment AND cmd_id = :cmd_id
""")

INSERT_COMMAND = text("""
INSERT INTO tds.backfill_commands (cmd_id, tenant, equipment, window_start, window_end, series_ids, gap_ids,
                                   readings_before, readings_after, requested_at, run_id)
VALUES (:cmd_id, :tenant, :equipment, :window_start, :window_end, :series_ids, :gap_ids,
        :readings_before, :readings_before, :requested_at, :run_id)
""").bindparams(bindparam("series_ids", type_=ARRAY(INTEGER)), bindparam("gap_ids", type_=ARRAY(BIGINT)))

# Oldest first, so a long queue of waiting commands is judged in the order they were sent.
SELECT_WAITING_COMMANDS = text("""
SELECT cmd_id, tenant, equipment, window_start, window_end, series_ids, gap_ids, readings_before, requested_at,
       settling_since, readings_after, last_landing_at
FROM tds.backfill_commands
WHERE judged_at IS NULL
ORDER BY requested_at, cmd_id
LIMIT :limit
""")

UPDATE_PROGRESS = text("""
UPDATE tds.backfill_commands
SET settling_since = :settling_since, readings_after = :readings_after, last_landing_at = :last_landing_at
WHERE cmd_id = :cmd_id
""")

MARK_JUDGED = text("UPDATE tds.backfill_commands SET judged_at = :now WHERE cmd_id = :cmd_id")

COUNT_IN_WINDOW = text("""
SELECT count(*) FROM tds.telemetry_raw
WHERE series_id = ANY(:series_ids) AND ts >= :window_start AND ts < :window_end
""").bindparams(bindparam("series_ids", type_=ARRAY(INTEGER)))

# Readings strictly inside the gap, and the longest spacing between consecutive readings with the
# gap's own edges included (so a gap with nothing inside has its full length as its silence).
JUDGE_GAP = text("""
WITH points AS (
    SELECT CAST(:gap_start AS timestamptz) AS ts
    UNION ALL SELECT CAST(:gap_end AS timestamptz)
    UNION ALL SELECT r.ts FROM tds.telemetry_raw r
              WHERE r.series_id = :series_id AND r.ts > :gap_start AND r.ts < :gap_end
),
spacings AS (
    SELECT extract(epoch FROM ts - lag(ts) OVER (ORDER BY ts))::float8 AS spacing_s FROM points
)
SELECT (SELECT count(*) - 2 FROM points) AS inside,
       (SELECT coalesce(max(spacing_s), 0) FROM spacings) AS longest_s
""")


@dataclass(frozen=True, slots=True)
class Gap:
    id: int
    tenant: str
    site: str | None
    equipment: str
    metric: str
    series_id: int
    gap_start: datetime
    gap_end: datetime | None
    cleared_at: datetime | None


@dataclass(frozen=True, slots=True)
class Command:
    """A resend command as tds.backfill_commands keeps it, with how far following its answer has got."""

    cmd_id: str
    tenant: str
    equipment: str
    window: Window
    series_ids: tuple[int, ...]
    gap_ids: tuple[int, ...]
    readings_before: int
    requested_at: datetime
    progress: Progress


def gaps(conn: Connection, gap_ids: Sequence[int]) -> list[Gap]:
    """The gaps with these ids that exist (with their series and site), by metric."""
    return [Gap(*row) for row in conn.execute(SELECT_GAPS, {"gap_ids": list(gap_ids)})]


def gaps_in_window(conn: Connection, tenant: str, equipment: str, metric: str | None, window: Window,
                   now: datetime) -> list[Gap]:
    rows = conn.execute(SELECT_GAPS_IN_WINDOW, {"tenant": tenant, "equipment": equipment, "metric": metric,
                                                "window_start": window.start, "window_end": window.end, "now": now})
    return [Gap(*row) for row in rows]


def series(conn: Connection, tenant: str, equipment: str, metric: str | None) -> tuple[list[int], str | None]:
    """The series ids of the chosen equipment (one metric, or all) and the equipment's site."""
    rows = conn.execute(SELECT_SERIES, {"tenant": tenant, "equipment": equipment, "metric": metric}).all()
    return [row.series_id for row in rows], (rows[0].site if rows else None)


def requestable_gaps(conn: Connection, since: datetime, open_before: datetime, equipment_limit: int,
                     already: Sequence[int]) -> list[GapSpan]:
    """Every requestable gap of the `equipment_limit` equipments with the oldest ones, oldest first."""
    rows = conn.execute(SELECT_REQUESTABLE, {"since": since, "open_before": open_before, "limit": equipment_limit,
                                             "already": list(already)})
    return [GapSpan(*row) for row in rows]


def waiting_gaps(conn: Connection, gap_ids: Sequence[int], since: datetime) -> list[int]:
    """The gaps among `gap_ids` still waiting for their requested run to start."""
    return list(conn.execute(SELECT_WAITING, {"ids": list(gap_ids), "since": since}).scalars())


def mark_requested(conn: Connection, gap_ids: Sequence[int], cmd_id: str, window: Window, now: datetime) -> None:
    conn.execute(MARK_REQUESTED, {"ids": list(gap_ids), "cmd_id": cmd_id, "window_start": window.start,
                                  "window_end": window.end, "now": now})


def record_outcome(conn: Connection, gap_id: int, cmd_id: str, outcome: Outcome, detail: str, now: datetime) -> None:
    """Only if the gap still belongs to this command: a later request for the same gap wins."""
    conn.execute(RECORD_OUTCOME, {"gap_id": gap_id, "cmd_id": cmd_id, "status": outcome.value, "detail": detail,
                                  "now": now})


def add_command(conn: Connection, command: Command, run_id: str | None) -> None:
    conn.execute(INSERT_COMMAND, {
        "cmd_id": command.cmd_id, "tenant": command.tenant, "equipment": command.equipment,
        "window_start": command.window.start, "window_end": command.window.end, "series_ids": list(command.series_ids),
        "gap_ids": list(command.gap_ids), "readings_before": command.readings_before,
        "requested_at": command.requested_at, "run_id": run_id,
    })


def waiting_commands(conn: Connection, limit: int) -> list[Command]:
    """Commands not judged yet, oldest first, at most `limit`."""
    return [Command(row.cmd_id, row.tenant, row.equipment, Window(row.window_start, row.window_end),
                    tuple(row.series_ids), tuple(row.gap_ids), row.readings_before, row.requested_at,
                    Progress(row.settling_since, row.readings_after, row.last_landing_at))
            for row in conn.execute(SELECT_WAITING_COMMANDS, {"limit": limit})]


def save_progress(conn: Connection, cmd_id: str, progress: Progress) -> None:
    conn.execute(UPDATE_PROGRESS, {"cmd_id": cmd_id, "settling_since": progress.settling_since,
                                   "readings_after": progress.readings_after,
                                   "last_landing_at": progress.last_landing_at})


def mark_judged(conn: Connection, cmd_id: str, now: datetime) -> None:
    conn.execute(MARK_JUDGED, {"cmd_id": cmd_id, "now": now})


def answer(conn: Connection, tenant: str, equipment: str, cmd_id: str) -> tuple[str, str | None] | None:
    """The device's newest answer to the command (status, detail), as the writer landed it."""
    row = conn.execute(SELECT_ANSWER, {"tenant": tenant, "equipment": equipment, "cmd_id": cmd_id}).one_or_none()
    return None if row is None else (row.status, row.detail)


def readings_in_window(conn: Connection, series_ids: Sequence[int], window: Window) -> int:
    return int(conn.execute(COUNT_IN_WINDOW, {"series_ids": list(series_ids), "window_start": window.start,
                                              "window_end": window.end}).scalar_one())


def judge_gap(conn: Connection, series_id: int, gap_start: datetime, gap_end: datetime,
              gap_factor: float) -> GapJudgement:
    """A silence counts as a gap past `gap_factor` times the series' expected interval as of the gap's
    end, the interval the quality run judges that hour by (`quality.intervals`)."""
    row = conn.execute(JUDGE_GAP, {"series_id": series_id, "gap_start": gap_start, "gap_end": gap_end}).one()
    interval_s = expected_intervals(conn, gap_end, [series_id]).by_series.get(series_id)
    limit = None if interval_s is None else gap_factor * float(interval_s)
    return GapJudgement(readings_inside=int(row.inside), longest_silence_s=float(row.longest_s), limit_s=limit)
