"""The `late_landings` sensor: hours where readings landed too late for the refresh schedules, reported
as landings of `telemetry`, so the `backfill_refresh` sensor refreshes them as it does a gap backfill's.

One path for every late landing: the writer records the hours (tds.stale_windows) whatever brought the
readings — a DLQ replay, a device's late buffer, a gap resend — and the refresh sensor requests the
rollup and quality partitions (hourly first, then daily); the marts' automation rebuilds the days those
re-ran. Rows are deleted one tick after their report: by then Dagster has stored it (a tick that dies
before its result is processed reports the same rows again, under the same id, so no run is doubled).
"""

import json

import dagster as dg
from sqlalchemy import Connection

from tds_platform.backfill.plan import iso
from tds_platform.defs.backfill.sensors import CMD_ID, TELEMETRY, WINDOW_END, WINDOW_START
from tds_platform.defs.resources import DatabaseResource
from tds_platform.landing import late
from tds_platform.landing.late import StaleHour

# Hours one tick reports; more wait for the next tick.
HOURS_PER_TICK = 200


def reported(cursor: str | None) -> list[int]:
    """The ids of the rows the previous tick reported (its cursor), to delete now."""
    try:
        ids = json.loads(cursor) if cursor else []
    except json.JSONDecodeError:
        ids = []
    return [int(i) for i in ids] if isinstance(ids, list) else []


def cursor_of(hours: list[StaleHour]) -> str:
    return json.dumps([h.id for h in hours])


def report(conn: Connection, previous: list[int]) -> tuple[list[dg.AssetObservation], list[StaleHour]]:
    """Delete what the previous tick reported, then the observations for what is recorded now."""
    late.clear(conn, previous)
    hours = late.oldest(conn, HOURS_PER_TICK)
    if not hours:
        return [], []
    source = late.source_id(hours)
    tenants = ",".join(sorted({h.tenant for h in hours}))
    observations = [dg.AssetObservation(asset_key=TELEMETRY, metadata={
        WINDOW_START: iso(window.start), WINDOW_END: iso(window.end), CMD_ID: source, "late_landing": True,
        "tenants": tenants}) for window in late.windows(hours)]
    return observations, hours


def build_late_landings_sensor(minimum_interval_s: int = 60) -> dg.SensorDefinition:
    @dg.sensor(name="late_landings", minimum_interval_seconds=minimum_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Readings that landed older than the refresh schedules' trailing hours (DLQ replay, late "
                           "device buffers, gap resends; recorded by the stream writer in tds.stale_windows): report "
                           "the hours as landings of telemetry, which backfill_refresh refreshes.")
    def late_landings(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult:
        with database.engine().begin() as conn:
            observations, hours = report(conn, reported(context.cursor))
        if not observations:
            return dg.SensorResult(skip_reason=dg.SkipReason("no late landing recorded"), cursor=cursor_of([]))
        context.log.info(f"{len(hours)} late hours in {len(observations)} windows: {observations[0].metadata}")
        return dg.SensorResult(asset_events=observations, cursor=cursor_of(hours))

    return late_landings
