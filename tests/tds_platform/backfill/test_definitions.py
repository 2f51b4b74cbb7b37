"""The code location carries the backfill and replay jobs and sensors, and loads."""

from __future__ import annotations

import dagster as dg

from tds_platform.definitions import defs


def test_backfill_and_replay_definitions_are_in_the_code_location() -> None:
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert repository.has_job("gap_backfill") and repository.has_job("dlq_replay")
    sensors = {sensor.name for sensor in repository.sensor_defs}
    assert {"new_gap_backfills", "backfill_answers", "backfill_refresh"} <= sensors
    assert repository.get_sensor_def("new_gap_backfills").job_name == "gap_backfill"
