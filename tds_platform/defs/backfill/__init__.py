"""Gap backfill in Dagster: the `gap_backfill` job, and the new-gap, answers and refresh sensors.

Settings come from `TDS_BACKFILL_*` (and the quality gap factor from `TDS_QUALITY_*`); this
package only launches runs and records outcomes, it never lands readings itself.
"""

import dagster as dg

from tds_platform.backfill.settings import BackfillSettings
from tds_platform.defs.backfill.jobs import build_backfill_job
from tds_platform.defs.backfill.resources import CommandBrokerResource
from tds_platform.defs.backfill.sensors import build_answer_sensor, build_new_gap_sensor, build_refresh_sensor
from tds_platform.quality.settings import QualitySettings
from tds_platform.settings import PlatformSettings

_settings = BackfillSettings()
gap_backfill_job = build_backfill_job(_settings)

defs = dg.Definitions(
    jobs=[gap_backfill_job],
    sensors=[build_new_gap_sensor(gap_backfill_job, _settings),
             build_answer_sensor(_settings, QualitySettings().gap_factor), build_refresh_sensor()],
    resources={"command_broker": CommandBrokerResource(url=PlatformSettings().mqtt_url)},
)
