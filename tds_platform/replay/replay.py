"""Replays dead letters: re-parse each with the current parser, land what now parses, mark every row.

Landing goes through the stream writer's own store (the same idempotent insert, and the same search
for the messages the database refuses), so a replay interrupted between landing and marking is simply
run again; it never deletes a dead letter.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from ingest_stream.parsing import MessageParser
from ingest_stream.records import DeadLetterReason, Parsed
from ingest_stream.store import Batch, TelemetryStore, WriteResult, write_isolating_refusals
from tds_platform.db.urls import libpq_url
from tds_platform.replay import dead_letters
from tds_platform.replay.dead_letters import IGNORED, LANDED, STILL_INVALID, DeadLetterRow

REPLAY_INSTANCE = "dlq-replay"
BATCH_ROWS = 500
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ReplaySelection:
    """Which dead letters to look at: an original reason, received since, at most `limit` rows."""

    reason: str | None = None
    since: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and self.reason not in set(DeadLetterReason):
            known = ", ".join(DeadLetterReason)
            raise ValueError(f"unknown dead-letter reason {self.reason!r}; use one of: {known}")
        if self.limit is not None and self.limit < 1:
            raise ValueError("the replay limit must be at least 1")


@dataclass
class ReplayReport:
    """Counts by outcome: landed, ignored (parses to nothing to land), still_invalid, unchanged
    (still invalid for the same reason as at the last replay, so the row was left as it was)."""

    dry_run: bool
    examined: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    still_invalid_by_reason: Counter[str] = field(default_factory=Counter)
    readings_inserted: int = 0
    readings_duplicate: int = 0
    rows_marked: int = 0

    def metadata(self) -> dict[str, int | bool | str]:
        counts = {kind: self.outcomes.get(kind, 0) for kind in (LANDED, IGNORED, STILL_INVALID, UNCHANGED)}
        reasons = ", ".join(f"{reason}={n}" for reason, n in sorted(self.still_invalid_by_reason.items()))
        return {"dry_run": self.dry_run, "examined": self.examined, **counts,
                "readings_inserted": self.readings_inserted, "readings_duplicate": self.readings_duplicate,
                "rows_marked": self.rows_marked, "still_invalid_reasons": reasons or "-"}


def _judge(parser: MessageParser, row: DeadLetterRow) -> tuple[str, Parsed]:
    """The row's new replay_result and what it parses to now."""
    parsed = parser.parse(row.topic, row.payload, row.received_at)
    if parsed.dead_letter is not None:
        letter = parsed.dead_letter
        return dead_letters.still_invalid(letter.reason.value, letter.detail), parsed
    if not (parsed.readings or parsed.events or parsed.acks):
        return IGNORED, parsed
    return LANDED, parsed


def _land(store: TelemetryStore, landing: list[tuple[DeadLetterRow, Parsed]]) -> tuple[WriteResult, dict[int, str]]:
    """Land the messages, leaving out the ones the database refuses (those stay dead letters). Returns
    totals and {row id: refusal result}.

    An unreachable database is StoreUnavailableError from the store, not caught here: the replay
    stops before marking, and running it again is safe.
    """
    isolated = write_isolating_refusals(store, Batch([row for row, _ in landing], [parsed for _, parsed in landing]))
    refused = {landing[position][0].id: dead_letters.still_invalid(refusal.reason.value, refusal.error)
               for position, refusal in isolated.refused.items()}
    return isolated.result, refused


def replay(engine: Engine, url: str, parser: MessageParser, selection: ReplaySelection = ReplaySelection(),
           dry_run: bool = False) -> ReplayReport:
    """Replay the selected dead letters in batches of BATCH_ROWS (oldest first); see ReplayReport."""
    report = ReplayReport(dry_run=dry_run)
    store = None if dry_run else TelemetryStore(libpq_url(url), REPLAY_INSTANCE)
    after = 0
    try:
        while selection.limit is None or report.examined < selection.limit:
            batch = BATCH_ROWS if selection.limit is None else min(BATCH_ROWS, selection.limit - report.examined)
            with engine.connect() as conn:
                rows = dead_letters.pending(conn, after, batch, selection.reason, selection.since)
            if not rows:
                break
            after = rows[-1].id
            report.examined += len(rows)
            judged = [(row, *_judge(parser, row)) for row in rows]
            results = {row.id: result for row, result, _ in judged}
            landing = [(row, parsed) for row, result, parsed in judged if result == LANDED]
            if store is not None and landing:
                written, refused = _land(store, landing)
                report.readings_inserted += written.inserted
                report.readings_duplicate += written.duplicates
                results.update(refused)
            elif dry_run:
                report.readings_inserted += sum(len(parsed.readings) for _, parsed in landing)
            _count(report, rows, results)
            if not dry_run:
                with engine.begin() as conn:
                    report.rows_marked += dead_letters.mark(conn, list(results.items()), datetime.now(UTC))
    finally:
        if store is not None:
            store.close()
    return report


def _count(report: ReplayReport, rows: list[DeadLetterRow], results: dict[int, str]) -> None:
    for row in rows:
        result = results[row.id]
        if result == row.replay_result:
            report.outcomes[UNCHANGED] += 1
            continue
        kind = result.split(":", 1)[0]
        report.outcomes[kind] += 1
        if kind == STILL_INVALID:
            report.still_invalid_by_reason[result.split(": ", 2)[1]] += 1
