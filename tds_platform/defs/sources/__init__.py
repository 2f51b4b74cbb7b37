"""Landing: the tables the stream writer fills, as observable sources and registry specs.

Dagster never writes to these tables from here; it only observes them.
"""

import dagster as dg

from tds_platform.defs.sources.assets import (
    dlq,
    equipment,
    metric_spec,
    observe_sources_job,
    observe_sources_schedule,
    telemetry,
)


def build_defs() -> dg.Definitions:
    return dg.Definitions(assets=[telemetry, dlq, equipment, metric_spec], jobs=[observe_sources_job],
                          schedules=[observe_sources_schedule])
