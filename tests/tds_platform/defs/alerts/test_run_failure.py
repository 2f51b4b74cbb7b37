"""Run-failure alerts: a failing job opens one alert per job, its next success resolves it."""

import dagster as dg
import psycopg

from tds_platform.alerting.settings import AlertSettings
from tds_platform.defs.alerts.sensors import build_run_failure_sensor, build_run_recovery_sensor
from tds_platform.defs.resources import DatabaseResource


class Outcome(dg.Config):
    fail: bool = True


@dg.op
def maybe_fail(config: Outcome) -> None:
    if config.fail:
        raise RuntimeError("the database said no")


@dg.job
def nightly() -> None:
    maybe_fail()


def run(instance: dg.DagsterInstance, fail: bool) -> dg.ExecuteInProcessResult:
    return nightly.execute_in_process(
        instance=instance, raise_on_error=False, run_config=dg.RunConfig(ops={"maybe_fail": Outcome(fail=fail)}))


def alerts(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dedup_key, severity, resolved_at IS NULL, message FROM tds.alerts").fetchall()


def test_failures_open_one_alert_per_job_and_a_success_resolves_it(database_url: str, webhook) -> None:
    settings = AlertSettings(webhook_url=webhook.url)
    failure_sensor, recovery_sensor = build_run_failure_sensor(settings), build_run_recovery_sensor(settings)
    resources = {"database": DatabaseResource(url=database_url)}
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            failed = run(instance, fail=True)
            assert not failed.success
            failure_sensor(dg.build_run_status_sensor_context(
                sensor_name="run_failure_alerts", dagster_instance=instance, dagster_run=failed.dagster_run,
                dagster_event=failed.get_run_failure_event(), resources=resources,
            ).for_run_failure())
        [(key, severity, is_open, message)] = alerts(database_url)
        assert (key, severity, is_open) == ("run_failure:nightly", "warning", True)
        assert failed.dagster_run.run_id in message

        succeeded = run(instance, fail=False)
        assert succeeded.success
        success_event = next(e for e in succeeded.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
        recovery_sensor(dg.build_run_status_sensor_context(
            sensor_name="run_recovery_alerts", dagster_instance=instance, dagster_run=succeeded.dagster_run,
            dagster_event=success_event, resources=resources,
        ))
    assert [row[2] for row in alerts(database_url)] == [False]
    assert [body["transition"] for body in webhook.bodies] == ["opened", "resolved"]
    assert webhook.bodies[0]["subject"] == "Dagster job nightly failed"
