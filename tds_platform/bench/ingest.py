"""`tds bench ingest`: the stream writer against the machine's own MQTT and database ceilings, in one run.

Each step is a small function returning plain figures; the run only orders them. Nothing here
asserts speed: targets are compared in the report. Steps leave no broker session behind.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest_stream.broker import BrokerAddress
from ingest_stream.settings import IngestSettings
from tds_platform.bench.database import BenchDatabase
from tds_platform.bench.publisher import FastPublisher, Message, PublishResult
from tds_platform.bench.sessions import DrainResult, drain_session, native_drain, prime_session, wipe_session
from tds_platform.bench.shapes import EQUIPMENT, TENANT, MessageShape
from tds_platform.bench.writers import DUPLICATES, MESSAGES, WriterProcess, wait_for_points, writer_settings
from tds_platform.stack import LocalStack, StackError, StackLayout
from tds_platform.stack.layout import free_port
from tds_platform.stack.postgres import best_edition

# The writer's own targets on the project's 2-core machine (issue 19): (figure, at least) per shape.
THROUGHPUT_TARGETS: dict[int, tuple[str, float]] = {1: ("msg_per_s", 120_000.0), 10: ("points_per_s", 300_000.0)}
P99_TARGET_S = 0.15
MEMORY_TARGET_MB = 150.0
NATIVE_CEILING_CLIENT = "tdsbench-ceiling"
PAHO_CLIENT = "tdsbench-paho"
LEAN_CEILING_CLIENT = "tdsbench-ceiling-lean"
REFERENCE_CLIENTS = (NATIVE_CEILING_CLIENT, PAHO_CLIENT, LEAN_CEILING_CLIENT)
PAIR_GROUP = "tdsbench-pair"
MB = 1024 * 1024

Echo = Callable[[str], None]


class BenchError(Exception):
    """The benchmark could not measure what it set out to (one sentence for the user)."""


@dataclass(frozen=True)
class IngestBenchOptions:
    messages: int = 200_000
    points: tuple[int, ...] = (1, 10)
    latency_rate: int = 10_000
    latency_seconds: float = 10.0
    memory_messages: int = 1_000_000
    latency_warmup_s: float = 1.0


# A smoke run: every step, a few thousand messages, well under a minute.
QUICK = IngestBenchOptions(messages=3_000, latency_rate=300, latency_seconds=2.0, memory_messages=5_000,
                           latency_warmup_s=0.5)


@dataclass
class BenchRun:
    """What every step needs: the stack, the benchmark database, where logs go, how to report progress."""

    stack: LocalStack
    database: BenchDatabase
    logs: Path
    echo: Echo
    writers: list[WriterProcess] = field(default_factory=list)

    @property
    def device(self) -> BrokerAddress:
        return BrokerAddress.from_url(self.stack.device_mqtt_url(TENANT))

    @property
    def reader(self) -> BrokerAddress:
        return BrokerAddress.from_url(self.stack.writer_mqtt_url())

    def settings(self, name: str, group: str | None = None) -> IngestSettings:
        return writer_settings(self.database.writer_url, self.stack.writer_mqtt_url(), f"{TENANT}-{name}", group)

    def writer(self, name: str, group: str | None = None) -> WriterProcess:
        process = WriterProcess(self.settings(name, group), self.logs / f"writer-{name}.log")
        self.writers.append(process)
        return process

    def close(self) -> None:
        """Stop every writer this run started and remove its broker session."""
        for process in self.writers:
            process.stop()
            process.wipe()
        for client_id in REFERENCE_CLIENTS:
            wipe_session(self.reader, client_id)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def preload(run: BenchRun, shape: MessageShape, messages: int) -> PublishResult:
    """Queue `messages` backlog messages in every primed session; all must be acknowledged by the broker."""
    run.echo(f"  preloading {messages:,} {shape.points}-point messages ...")
    with FastPublisher(run.device, f"{TENANT}-loader") as publisher:
        result = publisher.publish(shape.backlog(messages))
    if result.acked != messages:
        raise BenchError(f"the broker acknowledged {result.acked:,} of {messages:,} publishes "
                         f"({result.refused:,} refused); the backlog would not be exact")
    return result


def mqtt_ceiling(run: BenchRun, messages: int, receive_maximum: int, filters: tuple[str, ...]) -> DrainResult:
    """Step 1: the broker's delivery ceiling, Mosquitto's own C subscriber (`mosquitto_sub`) draining its
    primed session at QoS 1 with the writer's ReceiveMaximum: the ceiling the ratio uses."""
    run.echo("  MQTT ceiling: mosquitto_sub (C) draining the backlog ...")
    result = native_drain(run.reader, NATIVE_CEILING_CLIENT, filters, messages, receive_maximum)
    wipe_session(run.reader, NATIVE_CEILING_CLIENT)
    return result


def python_reference(run: BenchRun, messages: int, receive_maximum: int, lean: bool = False) -> DrainResult:
    """Reference lines, no ceiling: a bare Python subscriber (acks at once, does nothing else) drains its
    primed session: stock paho, or `lean`, the writer's own receive path (ingest_stream.receiver.mqtt_client)."""
    client_id = LEAN_CEILING_CLIENT if lean else PAHO_CLIENT
    run.echo(f"  reference: bare {'writer-client' if lean else 'stock-paho'} subscriber draining the backlog ...")
    result = drain_session(run.reader, client_id, messages, receive_maximum, lean=lean)
    wipe_session(run.reader, client_id)
    return result


def database_ceiling(run: BenchRun, shape: MessageShape, messages: int) -> dict[str, Any]:
    """Step 2: the backlog's own rows inserted server-side into tds.telemetry_raw, then removed again."""
    run.echo(f"  database ceiling: INSERT ... SELECT of {messages * shape.points:,} rows ...")
    run.database.empty_landing()
    rows, seconds = run.database.insert_ceiling(shape, messages)
    run.database.empty_landing()
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1), "load_1m": load()}


def count_check(run: BenchRun, shape: MessageShape, messages: int, writers: list[WriterProcess]) -> dict[str, Any]:
    """No loss: every expected row is there, in exactly the expected series. No doubles: the key
    (series_id, ts) makes a doubled row impossible, so a redelivery shows up as a duplicate count."""
    landed = run.database.landed()
    scrapes = [w.scrape() for w in writers]
    expected = messages * shape.points
    check = {
        "rows_expected": expected,
        "rows_landed": landed.rows,
        "series_expected": shape.equipment * shape.points,
        "series_landed": landed.series,
        "dead_letters": landed.dead_letters,
        "messages_handled": int(sum(s.total(MESSAGES) for s in scrapes)),
        "duplicates_absorbed": int(sum(s.total(DUPLICATES) for s in scrapes)),
    }
    check["passed"] = (landed.rows == expected and landed.series == check["series_expected"]
                       and landed.dead_letters == 0)
    return check


def drain(run: BenchRun, writers: list[WriterProcess], shape: MessageShape, messages: int,
          on_poll: Callable[[], object] | None = None) -> dict[str, Any]:
    """Start primed writers on their queued backlog; time from the first connect to the last reading."""
    for process in writers:
        process.start()
    connected = min(process.wait_connected() for process in writers)
    finished = wait_for_points(writers, messages * shape.points, on_poll=on_poll)
    seconds = finished - connected
    figures = {
        "messages": messages,
        "seconds": round(seconds, 3),
        "msg_per_s": round(messages / seconds, 1),
        "points_per_s": round(messages * shape.points / seconds, 1),
        "load_1m": load(),
        "count_check": count_check(run, shape, messages, writers),
    }
    figures["per_writer_messages"] = [int(w.scrape().total(MESSAGES)) for w in writers]
    return figures


def shape_step(run: BenchRun, shape: MessageShape, messages: int) -> dict[str, Any]:
    """Steps 1-4 for one message shape, on one backlog queued for the bare subscriber and the writer."""
    run.echo(f"{shape.points}-point messages:")
    writer = run.writer(f"drain-{shape.points}")
    for client_id in REFERENCE_CLIENTS:
        prime_session(run.reader, client_id, writer.filters)
    writer.prime()
    loaded = preload(run, shape, messages)
    receive_maximum = writer.settings.effective_receive_maximum
    ceiling = mqtt_ceiling(run, messages, receive_maximum, writer.filters)
    paho = python_reference(run, messages, receive_maximum)
    lean = python_reference(run, messages, receive_maximum, lean=True)
    database = database_ceiling(run, shape, messages)
    run.echo("  stream writer draining the same backlog ...")
    drained = drain(run, [writer], shape, messages)
    writer.stop()
    writer.wipe()
    mqtt_points_per_s = ceiling.per_second * shape.points
    bound = min(mqtt_points_per_s, database["rows_per_s"])
    return {
        "points": shape.points,
        "messages": messages,
        "preload": {"seconds": round(loaded.seconds, 3), "msg_per_s": round(loaded.per_second, 1)},
        "mqtt_ceiling": {"client": "mosquitto_sub", **_drain_figures(ceiling, shape), "load_1m": load()},
        "mqtt_reference_paho": _drain_figures(paho, shape),
        "mqtt_reference_writer_client": _drain_figures(lean, shape),
        "database_ceiling": database,
        "writer": drained,
        "bound": "mqtt" if mqtt_points_per_s <= database["rows_per_s"] else "database",
        "ratio": round(drained["points_per_s"] / bound, 3),
        "target": THROUGHPUT_TARGETS.get(shape.points),
    }


def _drain_figures(result: DrainResult, shape: MessageShape) -> dict[str, float]:
    return {"seconds": round(result.seconds, 3), "msg_per_s": round(result.per_second, 1),
            "points_per_s": round(result.per_second * shape.points, 1)}


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket that holds the q-th observation."""
    bounds = sorted(buckets)
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = bound, count
    return lower


def latency_step(run: BenchRun, rate: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    """Step 5: publish 1-point messages stamped with their publish time at a fixed rate into a live writer.

    Primary figure: the writer's own tds_ingest_publish_to_commit_seconds histogram (reading ts ->
    commit; exact for the 150 ms target, which is a bucket bound). Cross-check: reading ts ->
    ingested_at in the database (the batch transaction's start, so it omits the write itself).
    """
    run.echo(f"latency: {rate:,} msg/s for {seconds:g} s into a running writer ...")
    shape = MessageShape(points=1)
    run.database.empty_landing()
    writer = run.writer("latency")
    writer.prime()  # subscribed before the first publish, however fast the process connects
    writer.start()
    writer.wait_connected()
    with FastPublisher(run.device, f"{TENANT}-live") as publisher:
        warm = publisher.publish_paced(lambda n, _now: shape.live(n, time.time()), rate, warmup_s)
        wait_for_points([writer], warm.acked)
        before = writer.scrape()
        since = datetime.now(UTC)
        offset = warm.sent

        def live(n: int, _now: float) -> Message:
            return shape.live(offset + n, time.time())

        measured = publisher.publish_paced(live, rate, seconds)
    wait_for_points([writer], warm.acked + measured.acked)
    after = writer.scrape()
    writer.stop()
    writer.wipe()
    buckets = {le: after.buckets.get(le, 0.0) - before.buckets.get(le, 0.0) for le in after.buckets}
    observed = buckets.get(float("inf"), 0.0)
    rows, database_percentiles = run.database.ts_to_ingested(since)
    quantiles = {f"p{round(q * 100)}_s": histogram_quantile(q, buckets) for q in (0.5, 0.95, 0.99)}
    return {
        "rate_msg_per_s": rate,
        "seconds": seconds,
        "published": measured.acked,
        "achieved_rate_msg_per_s": round(measured.acked / measured.seconds, 1),
        "source": "writer histogram tds_ingest_publish_to_commit_seconds (reading ts -> commit)",
        **{k: None if v is None else round(v, 4) for k, v in quantiles.items()},
        "within_target_share": round(buckets.get(P99_TARGET_S, 0.0) / observed, 4) if observed else None,
        "observations": int(observed),
        "database_ts_to_ingested_at": {
            "rows": rows,
            **{name: round(value, 4) for name, value in zip(("p50_s", "p95_s", "p99_s"), database_percentiles,
                                                            strict=False)},
        },
        "p99_target_s": P99_TARGET_S,
        "load_1m": load(),
    }


def memory_step(run: BenchRun, messages: int) -> dict[str, Any]:
    """Step 6: the writer's peak RSS while it drains a large backlog (polled + the kernel's VmHWM)."""
    run.echo(f"memory: one writer draining {messages:,} queued messages ...")
    shape = MessageShape(points=1)
    run.database.empty_landing()
    writer = run.writer("memory")
    writer.prime()
    preload(run, shape, messages)
    drained = drain(run, [writer], shape, messages, on_poll=writer.rss)
    high_water = writer.high_water_mark()
    writer.stop()
    writer.wipe()
    peak = max(high_water or 0, writer.rss_peak_polled)
    return {
        "messages": messages,
        "peak_rss_mb": round(peak / MB, 1),
        "vm_hwm_mb": None if high_water is None else round(high_water / MB, 1),
        "polled_peak_rss_mb": round(writer.rss_peak_polled / MB, 1),
        "target_mb": MEMORY_TARGET_MB,
        "drain": drained,
    }


def shared_group_step(run: BenchRun, messages: int) -> dict[str, Any]:
    """Step 7: two writers in one shared-subscription group drain one backlog together."""
    run.echo(f"shared group: two writers draining {messages:,} messages together ...")
    shape = MessageShape(points=1)
    run.database.empty_landing()
    pair = [run.writer(f"pair-{n}", group=PAIR_GROUP) for n in (1, 2)]
    for process in pair:
        process.prime()
    preload(run, shape, messages)
    drained = drain(run, pair, shape, messages)
    for process in pair:
        process.stop()
        process.wipe()
    return drained


@contextlib.contextmanager
def bench_stack(stack_dir: Path | None, echo: Echo) -> Iterator[tuple[LocalStack, str]]:
    """The running stack in `stack_dir`, or a throw-away one on free ports (non-durable: fsync off)."""
    if stack_dir is not None:
        local = LocalStack(StackLayout.load(stack_dir.absolute()))
        if not local.status().healthy:
            raise BenchError(f"no running local stack in {stack_dir}; start it with `tds stack up` "
                             "or leave out --stack-dir to let the benchmark start its own")
        yield local, "existing"
        return
    root = Path(tempfile.mkdtemp(prefix="tds-bench-"))
    root.chmod(0o755)
    # The edition `tds stack up` would choose: the figures are those of what this machine runs.
    local = LocalStack(StackLayout(root=root, pg_port=free_port(), mqtt_port=free_port(),
                                   mqtt_service_port=free_port(), durable=False, edition=best_edition()))
    echo(f"starting a throw-away stack in {root} ({local.layout.edition} TimescaleDB edition; non-durable: "
         "fsync and synchronous_commit off) ...")
    try:
        local.up()
        yield local, "own"
    finally:
        with contextlib.suppress(StackError):
            local.down()
        shutil.rmtree(root, ignore_errors=True)


def _environment(stack: LocalStack, mode: str, database: BenchDatabase) -> dict[str, Any]:
    broker = stack.broker.status()
    durable = stack.layout.durable
    return {
        "stack": mode,
        "durable": durable,
        "durability_note": "durable (fsync on)" if durable else
        "NOT durable: fsync, synchronous_commit and full_page_writes off (flatters both the database "
        "ceiling and the writer equally)",
        "postgres": database.server_version(),
        "timescaledb_edition": database.edition(),
        "mosquitto": broker.version,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.platform(),
    }


def run_ingest_bench(options: IngestBenchOptions, stack_dir: Path | None, logs: Path, echo: Echo) -> dict[str, Any]:
    """Every step in order on one stack; the result is the JSON the report writes."""
    started = datetime.now(UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    shapes = [MessageShape(points=p) for p in options.points]
    with bench_stack(stack_dir, echo) as (stack, mode):
        database = BenchDatabase(stack)
        database.create(shapes)
        run = BenchRun(stack, database, logs, echo)
        try:
            probe = run.settings("probe")
            result: dict[str, Any] = {
                "benchmark": "tds bench ingest",
                "started_at": started.isoformat(),
                "options": {**asdict(options), "points": list(options.points), "equipment": EQUIPMENT},
                "environment": _environment(stack, mode, database),
                "writer_settings": {"batch_size": probe.batch_size, "batch_max_age_ms": probe.batch_max_age_ms,
                                    "write_connections": probe.write_connections,
                                    "receive_maximum": probe.effective_receive_maximum,
                                    "coordination": "none (one writer) / shared (two writers)"},
                "shapes": [shape_step(run, shape, options.messages) for shape in shapes],
                "latency": latency_step(run, options.latency_rate, options.latency_seconds,
                                        options.latency_warmup_s),
                "memory": memory_step(run, options.memory_messages),
                "shared_group": shared_group_step(run, options.messages),
            }
        finally:
            run.close()
            database.drop()
    result["load_1m"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result
