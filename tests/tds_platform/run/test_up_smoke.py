"""Smoke test of `tds up` (what `make up` runs): the whole platform starts, data lands, the
Dagster UI serves the lineage graph, the analyst marts hold rows within five minutes, and Ctrl-C
stops everything it started."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from tds_platform.stack import LocalStack, StackLayout
from tds_platform.stack.layout import free_port
from tds_platform.stack.processes import pid_alive

TDS = str(Path(sys.executable).parent / "tds")
LINEAGE_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
RUNS_QUERY = "{ runsOrError { ... on Runs { results { jobName status } } } }"
MARTS = ("equipment_hourly", "equipment_daily", "equipment_availability", "data_quality_scorecard", "site_daily_kpis")


def _get(url: str, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def _rendered(url: str) -> str:
    """The page's DOM after headless Chromium ran its JavaScript (the Dagster UI builds every page in
    the browser: the HTML the server sends names no asset)."""
    chromium = shutil.which("chromium")
    assert chromium, "headless Chromium is missing: `make test` installs it (scripts/install-system.sh test)"
    result = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--virtual-time-budget=30000", "--dump-dom", url],
                            capture_output=True, timeout=120, check=True)
    return result.stdout.decode()


def _wait(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError, psycopg.Error) as exc:
            last_error = exc
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


def _as_from_a_terminal() -> None:
    """Runs in the child before `tds up` starts: Ctrl-C in a terminal reaches a foreground process with
    SIGINT's default action, but a job a non-interactive shell put in the background (a CI script's
    `... &`) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def platform() -> Iterator[dict[str, object]]:
    root = Path(tempfile.mkdtemp(prefix="tds-up-"))
    root.chmod(0o755)
    ports = {"pg": free_port(), "mqtt": free_port(), "mqtt_service": free_port(), "ui": free_port(),
             "writer": free_port()}
    log = (root / "up.log").open("wb")
    proc = subprocess.Popen(
        [TDS, "up", "--stack-dir", str(root), "--pg-port", str(ports["pg"]), "--mqtt-port", str(ports["mqtt"]),
         "--mqtt-service-port", str(ports["mqtt_service"]),
         "--ui-port", str(ports["ui"]), "--writer-port", str(ports["writer"]), "--history", "30m"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=_as_from_a_terminal)
    yield {"proc": proc, "root": root, **ports}
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(900)
def test_make_up_runs_the_platform_and_ctrl_c_stops_it(platform: dict) -> None:  # type: ignore[type-arg]
    proc: subprocess.Popen[bytes] = platform["proc"]
    root: Path = platform["root"]
    started_up = time.monotonic()
    _wait(lambda: b"press Ctrl-C" in (root / "up.log").read_bytes(), 120, "tds up to report it is running")
    # Alerts reach a local sink with no configuration, and tds up says where.
    assert f"alerts       {root / 'run' / 'alerts.jsonl'}" in (root / "up.log").read_text()
    for n in (0, 1):
        _wait(lambda n=n: json.loads(_get(f"http://127.0.0.1:{platform['writer'] + n}/health"))["status"] == "ok",
              30, f"writer {n + 1} healthy")
    url = LocalStack(StackLayout.load(root)).database_url()  # the platform's own login, as `tds status` uses

    def readings() -> int:
        with psycopg.connect(url) as conn:
            return int(conn.execute("SELECT count(*) FROM tds.telemetry_raw").fetchone()[0])

    _wait(lambda: readings() > 1000, 60, "the simulator's history to land")

    def lineage() -> dict[str, list[str]]:
        body = json.dumps({"query": LINEAGE_QUERY}).encode()
        nodes = json.loads(_get(f"http://127.0.0.1:{platform['ui']}/graphql", body))["data"]["assetNodes"]
        return {"/".join(n["assetKey"]["path"]): ["/".join(d["path"]) for d in n["dependencyKeys"]] for n in nodes}

    _wait(lambda: "telemetry_1m" in lineage(), 120, "the Dagster UI to serve the asset graph")
    graph = lineage()
    assert "telemetry" in graph["telemetry_1m"]
    assert "telemetry_1m" in graph["telemetry_1h"]

    assert "analytics/equipment_hourly" in graph
    # What a person opening the UI sees, rendered by a real browser: the rollups' lineage from landed
    # telemetry to the marts, and the catalog with the quality assets; no dialog in front of them.
    ui = f"http://127.0.0.1:{platform['ui']}"
    for page, assets in ((f"{ui}/locations/tds_platform/asset-groups/rollups",
                          ("telemetry", "telemetry_1m", "telemetry_1h", "telemetry_1d", "equipment_hourly")),
                         (f"{ui}/assets", ("quality_hourly", "series_intervals", "gaps", "data_quality_scorecard"))):
        dom = _rendered(page)
        assert "Join the Dagster community" not in dom, f"{page} opens behind Dagster's newsletter dialog"
        missing = [asset for asset in assets if asset not in dom]
        assert not missing, f"{page} shows no {missing}"

    def launched_jobs() -> set[str]:
        body = json.dumps({"query": RUNS_QUERY}).encode()
        runs = json.loads(_get(f"http://127.0.0.1:{platform['ui']}/graphql", body))["data"]["runsOrError"]["results"]
        return {run["jobName"] for run in runs}

    # The kickoff submits the first interval, rollup and quality runs as soon as the history has landed.
    _wait(lambda: {"series_intervals_job", "refresh_rollups", "quality_hourly_job"} <= launched_jobs(), 180,
          "the first runs")

    def empty_marts() -> list[str]:
        with psycopg.connect(url) as conn:
            built = {row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")}
            return [mart for mart in MARTS if mart not in built
                    or not conn.execute(f"SELECT EXISTS (SELECT FROM analytics.{mart})").fetchone()[0]]

    # The README's promise: within five minutes of starting, the analyst marts hold today's figures.
    _wait(lambda: not empty_marts(), 300 - (time.monotonic() - started_up), "every analytics mart to hold rows")

    pid_files = {p.stem: int(p.read_text()) for p in (root / "run").glob("*.pid")}
    assert {"writer-1", "writer-2", "simulator", "dagster"} <= set(pid_files)
    # Every process the services started, Dagster's code servers and runs included (own sessions).
    pids = [pid for root in pid_files.values() if psutil.pid_exists(root)
            for pid in (root, *(c.pid for c in psutil.Process(root).children(recursive=True)))]
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    time.sleep(1)
    proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C must not cut the cleanup short
    try:
        code = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        alive = [" ".join(psutil.Process(pid).cmdline()[:4]) for pid in pids if pid_alive(pid)]
        raise AssertionError(f"tds up did not stop within 90 s of Ctrl-C; still alive: {alive}; "
                             f"up.log ends: {(root / 'up.log').read_text()[-1500:]}") from None
    assert code == 0, (root / "up.log").read_text()[-1500:]
    print(f"tds up stopped {time.monotonic() - started:.1f} s after Ctrl-C")
    time.sleep(1)
    survivors = [" ".join(psutil.Process(pid).cmdline()[:4]) for pid in pids if pid_alive(pid)]
    assert not survivors, f"still alive after tds up stopped: {survivors}"
    assert b"stopped" in (root / "up.log").read_bytes()
