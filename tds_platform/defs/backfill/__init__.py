"""Gap backfill in Dagster: the `gap_backfill` job, and the new-gap, answers, late-landings and refresh sensors.

Settings come from `TDS_BACKFILL_*` (and the quality gap factor from `TDS_QUALITY_*`); this
package only launches runs and records outcomes, it never lands readings itself.
"""

import dagster as dg

from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.jobs import build_backfill_job
from tds_platform.defs.backfill.late_landings import build_late_landings_sensor
from tds_platform.defs.backfill.resources import MQTT_URL, CommandBrokerResource
from tds_platform.defs.backfill.sensors import build_answer_sensor, build_new_gap_sensor, build_refresh_sensor
from tds_platform.quality.settings import QualitySettings


def build_defs(backfill: BackfillSettings, quality: QualitySettings) -> dg.Definitions:
    """`quality` gives the gap factor an answered gap is judged closed by, as the quality run judges it."""
    job = build_backfill_job(backfill)
    return dg.Definitions(
        jobs=[job],
        sensors=[build_new_gap_sensor(job, backfill), build_answer_sensor(backfill, quality.gap_factor),
                 build_late_landings_sensor(), build_refresh_sensor()],
        resources={"command_broker": CommandBrokerResource(url=MQTT_URL)},
    )
