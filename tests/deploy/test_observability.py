"""Prometheus and Grafana provisioning: valid files, and only metrics the writers really export.

A dashboard panel on a misspelt metric shows "no data" forever without an error; these tests make
that a failure instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import yaml
from prometheus_client import CollectorRegistry

from ingest_stream.receiver.metrics import IngestMetrics

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana" / "provisioning"
DASHBOARD = GRAFANA / "dashboards" / "tds-ingest.json"

# The writer metrics the dashboard is documented to show (issue 7).
DOCUMENTED = {
    "tds_ingest_messages_total", "tds_ingest_points_total", "tds_ingest_duplicates_total",
    "tds_ingest_dead_letters_total", "tds_ingest_batch_size", "tds_ingest_commit_duration_seconds",
    "tds_ingest_publish_to_commit_seconds", "tds_ingest_queue_depth", "tds_ingest_mqtt_connected",
    "tds_ingest_reconnects_total",
}
HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def metric_names(expression: str) -> set[str]:
    """tds_ingest_* metrics a PromQL expression reads, histogram series folded to their metric."""
    names = set(re.findall(r"\btds_ingest_[a-z_]+", expression))
    return {HISTOGRAM_SERIES.sub("", name) if name.endswith(("_bucket", "_sum", "_count")) else name
            for name in names}


def exported_names() -> set[str]:
    """What the writer's /metrics exposes: counters get their _total suffix there."""
    registry = CollectorRegistry()
    IngestMetrics(registry)
    return {f"{family.name}_total" if family.type == "counter" else family.name for family in registry.collect()}


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def prometheus_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
            if "expr" in target]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
            for rule in group["rules"]]


def test_dashboard_shows_every_documented_writer_metric_and_nothing_else() -> None:
    used = set().union(*(metric_names(expr) for expr in prometheus_expressions()))
    assert used == DOCUMENTED


def test_documented_metrics_are_exported_by_the_writer() -> None:
    assert exported_names() >= DOCUMENTED


def test_alert_rules_read_only_documented_metrics() -> None:
    rules = alert_rules()
    assert rules
    for rule in rules:
        assert rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert metric_names(rule["expr"]) <= DOCUMENTED, rule["alert"]


def test_prometheus_loads_the_rules_it_ships() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    # deploy/prometheus is mounted at /etc/prometheus (docker-compose.yml).
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"tds-ingest"}


def test_panels_use_the_provisioned_datasources() -> None:
    sources = yaml.safe_load((GRAFANA / "datasources" / "tds.yaml").read_text())["datasources"]
    uids = {source["uid"]: source for source in sources}
    panels = [panel for panel in dashboard()["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == panel["datasource"]["uid"]
            assert ("expr" in target) == (uids[panel["datasource"]["uid"]]["type"] == "prometheus")


def test_database_datasource_is_read_only_and_keeps_its_password_out_of_the_file() -> None:
    sources = yaml.safe_load((GRAFANA / "datasources" / "tds.yaml").read_text())["datasources"]
    database = next(source for source in sources if source["uid"] == "tds-postgres")
    assert database["user"] == "tds_grafana"
    assert database["secureJsonData"]["password"] == "$TDS_DB_GRAFANA_PASSWORD"


def test_dashboard_provider_points_at_the_dashboard() -> None:
    providers = yaml.safe_load((GRAFANA / "dashboards" / "tds.yaml").read_text())["providers"]
    # deploy/grafana/provisioning is mounted at /etc/grafana/provisioning (docker-compose.yml).
    assert providers[0]["options"]["path"] == "/etc/grafana/provisioning/dashboards"
    assert dashboard()["uid"] == "tds-ingest"


def test_freshness_panels_read_the_registry(database_url: str) -> None:
    """The PostgreSQL panels' SQL runs on a migrated database and reports per tenant."""
    queries = [target["rawSql"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
               if "rawSql" in target]
    assert queries
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO tds.equipment (tenant, equipment, last_seen) VALUES"
                     " ('acme', 'chiller-1', now() - interval '120 seconds'),"
                     " ('acme', 'pump-1', now() - interval '2 hours'),"
                     " ('globex', 'meter-1', now() - interval '10 seconds')")
        freshness = dict(conn.execute(queries[0]).fetchall())
        silent = {row[0]: row[1:] for row in conn.execute(queries[1]).fetchall()}
    assert 119 <= freshness["acme"] < 130
    assert 9 <= freshness["globex"] < 20
    assert silent == {"acme": (1, 2), "globex": (0, 1)}
