"""DLQ replay in Dagster: the `dlq_replay` job (launched by hand after a template or adapter fix).

It parses with the same settings as the stream writer (`TDS_MQTT_TOPICS`...) and never deletes a
dead letter.
"""

import dagster as dg

from tds_platform.defs.replay.jobs import build_replay_job
from tds_platform.replay.parsing import ParserSettings

dlq_replay_job = build_replay_job(ParserSettings())

defs = dg.Definitions(jobs=[dlq_replay_job])
