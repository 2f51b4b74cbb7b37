"""Every Prometheus metric of the writer, declared in one place and named the Prometheus way.

Labels take values from small fixed sets (kind, outcome, reason, state) — never a device id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    """One set per process (or per test), on its own registry so tests never share counters."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("tds_ingest_messages", "MQTT messages handled, by topic kind and outcome",
                                ["kind", "outcome"], registry=r)
        self.points = Counter("tds_ingest_points", "Readings newly landed in tds.telemetry", registry=r)
        self.duplicates = Counter("tds_ingest_duplicates", "Readings already present (redelivery or re-send)",
                                  registry=r)
        self.dead_letters = Counter("tds_ingest_dead_letters", "Messages written to tds.dlq, by reason",
                                    ["reason"], registry=r)
        self.batch_size = Histogram("tds_ingest_batch_size", "Messages per committed batch",
                                    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000), registry=r)
        self.commit_duration = Histogram("tds_ingest_commit_duration_seconds", "Time to write and commit a batch",
                                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        # 0.15 and 0.2: a p99 read off the histogram is interpolated between neighbouring bounds.
        latency_buckets = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        self.publish_to_commit = Histogram(
            "tds_ingest_publish_to_commit_seconds", "Reading timestamp (device clock) to commit, live data only",
            buckets=latency_buckets, registry=r)
        self.receive_to_commit = Histogram("tds_ingest_receive_to_commit_seconds", "Receipt to commit",
                                           buckets=latency_buckets, registry=r)
        self.queue_depth = Gauge("tds_ingest_queue_depth", "Messages received and not yet acknowledged",
                                 registry=r)
        self.mqtt_connected = Gauge("tds_ingest_mqtt_connected", "1 while the MQTT session is connected",
                                    ["session"], registry=r)
        self.database_up = Gauge("tds_ingest_database_up", "1 while the last database operation succeeded",
                                 registry=r)
        self.reconnects = Counter("tds_ingest_reconnects", "MQTT reconnections", registry=r)
        self.fences = Counter("tds_ingest_fences", "Times this member stopped consuming because its heartbeat failed",
                              registry=r)
        self.database_retries = Counter("tds_ingest_database_retries", "Batch writes retried after an error",
                                        registry=r)
        self.takeovers = Counter("tds_ingest_takeovers", "Sessions of dead members drained by this instance",
                                 registry=r)
