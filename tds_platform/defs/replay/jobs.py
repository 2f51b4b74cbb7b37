"""The `dlq_replay` job: re-parse dead letters with the writer's current templates and adapters.

The op only turns config into a selection, calls `tds_platform.replay` and reports counts by
outcome (run metadata, and an observation of `dlq`); it never deletes or rewrites a dead letter.
"""


import dagster as dg
from pydantic import Field

from ingest_stream.settings import ParsingSettings
from tds_platform.defs.resources import DatabaseResource
from tds_platform.defs.run_queue import Lane, lane_tags
from tds_platform.replay.replay import ReplaySelection, replay
from tds_platform.time_windows import parse_instant

JOB_NAME = "dlq_replay"
DLQ = dg.AssetKey("dlq")


class DlqReplayConfig(dg.Config):
    reason: str | None = Field(default=None, description="only dead letters with this original reason")
    since: str | None = Field(default=None,
                              description="only dead letters received since (ISO 8601, UTC unless it names a zone)")
    limit: int | None = Field(default=None, description="at most this many dead letters")
    dry_run: bool = Field(default=False, description="parse and count only: land nothing, mark nothing")


def selection_from(config: DlqReplayConfig) -> ReplaySelection:
    """ValueError (one sentence) for a reason, time or limit that cannot be used."""
    since = parse_instant(config.since, "since") if config.since else None
    return ReplaySelection(reason=config.reason or None, since=since, limit=config.limit)


def build_replay_job(parser_settings: ParsingSettings) -> dg.JobDefinition:
    @dg.op(name="replay_dead_letters", description="Re-parse dead letters; land what now parses; mark each row.")
    def replay_dead_letters(context: dg.OpExecutionContext, config: DlqReplayConfig,
                            database: DatabaseResource) -> None:
        try:
            selection = selection_from(config)
            parser = parser_settings.parser()
        except ValueError as error:
            raise dg.Failure(description=str(error)) from None
        report = replay(database.engine(), database.url, parser, selection, dry_run=config.dry_run)
        metadata = report.metadata()
        context.log.info(f"dlq replay: {metadata}")
        context.log_event(dg.AssetObservation(asset_key=DLQ, metadata={f"replay_{k}": v for k, v in metadata.items()}))
        context.add_output_metadata(metadata)

    @dg.job(name=JOB_NAME, tags=lane_tags(Lane.REPLAY),
            description="Re-parse dead letters with the current topic templates/adapters (TDS_MQTT_TOPICS), land "
                        "the ones that now parse, mark every row's replayed_at/replay_result. Idempotent.")
    def dlq_replay() -> None:
        replay_dead_letters()

    return dlq_replay
