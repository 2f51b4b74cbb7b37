"""DLQ replay in Dagster: the `dlq_replay` job (launched by hand after a template or adapter fix).

It parses with the same settings as the stream writer (`TDS_MQTT_TOPICS`...) and never deletes a
dead letter.
"""

import dagster as dg

from ingest_stream.settings import ParsingSettings
from tds_platform.defs.replay.jobs import build_replay_job


def build_defs(parsing: ParsingSettings) -> dg.Definitions:
    return dg.Definitions(jobs=[build_replay_job(parsing)])
