"""The dlq_replay job (counts as run metadata) and `tds dlq list | replay` over a real database."""

from __future__ import annotations

import dagster as dg
import psycopg
from click.testing import CliRunner

from ingest_stream.settings import ParsingSettings
from tds_platform.cli.main import cli
from tds_platform.defs.replay.jobs import build_replay_job
from tds_platform.defs.resources import DatabaseResource

LEGACY = "tds/{tenant}/{site}/{equipment}/{kind},equipamentos/{equipment}/dados;tenant=legacy;kind=telem"


def seed(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO tds.dlq (topic, payload, reason) VALUES "
                     "('equipamentos/ch-9/dados', %s, 'unknown_topic'), ('tds/a/p/e/telem', 'nope', 'invalid_json')",
                     (b'{"ts": "2026-11-22T10:00:00Z", "temp": 21.5}',))


def test_the_job_reports_counts_by_outcome_as_run_metadata(database_url: str) -> None:
    seed(database_url)
    job = build_replay_job(ParsingSettings(mqtt_topics=LEGACY))
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance,
                                        resources={"database": DatabaseResource(url=database_url)})
        assert result.success
        [output] = [event for event in result.all_node_events if event.is_successful_output]
        metadata = {key: value.value for key, value in output.step_output_data.metadata.items()}
        [observation] = [r.event_log_entry.asset_observation for r in instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION).records]
    assert (metadata["examined"], metadata["landed"], metadata["still_invalid"]) == (2, 1, 1)
    assert observation.asset_key == dg.AssetKey("dlq")
    assert observation.metadata["replay_landed"].value == 1


def test_the_job_refuses_a_bad_since_in_one_sentence(database_url: str) -> None:
    job = build_replay_job(ParsingSettings())
    result = job.execute_in_process(run_config={"ops": {"replay_dead_letters": {"config": {"since": "yesterday"}}}},
                                    resources={"database": DatabaseResource(url=database_url)}, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("replay_dead_letters")
    assert "since 'yesterday' is not an ISO 8601 time" in failure.user_failure_data.description


def test_cli_lists_and_replays(database_url: str) -> None:
    seed(database_url)
    runner = CliRunner()

    listed = runner.invoke(cli, ["dlq", "list", "--database-url", database_url])
    assert listed.exit_code == 0, listed.output
    assert "unknown_topic" in listed.output and "equipamentos/ch-9/dados" in listed.output

    dry = runner.invoke(cli, ["dlq", "replay", "--database-url", database_url, "--topics", LEGACY, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("2 examined: dry run: would land 1 (1 readings), 1 still invalid")

    done = runner.invoke(cli, ["dlq", "replay", "--database-url", database_url, "--topics", LEGACY,
                               "--reason", "unknown_topic"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("1 examined: landed 1 (1 readings), 0 still invalid")


def test_cli_refuses_an_unknown_reason_in_one_sentence(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["dlq", "replay", "--database-url", database_url, "--reason", "nope"])
    assert result.exit_code == 1
    assert "Error: unknown dead-letter reason 'nope'; use one of:" in result.output
    assert "Traceback" not in result.output
