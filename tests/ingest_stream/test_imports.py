"""The writer installs and starts alone: its import graph stays inside pyproject.toml's base dependencies.

A fresh interpreter imports the writer's entry points (`tds-ingest`, the receiver, the worker process) as
`tds-ingest run` does, and reports what it loaded. Anything of the platform extra (Dagster, dbt, Great
Expectations, pandas, SQLAlchemy ...) or of tds_platform in there would put it back into every writer
install and image; any other third-party module must come from a base dependency, or `pip install
tds-platform` (the writer alone) breaks.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
# What `tds-ingest run` loads: the command line, the receiving process, and the worker process it starts.
WRITER_ENTRY_POINTS = ("ingest_stream.cli", "ingest_stream.receiver.service", "ingest_stream.worker.process")
PLATFORM_ONLY = {"tds_platform", "dagster", "dagster_dbt", "dagster_postgres", "dagster_graphql", "dbt",
                 "great_expectations", "pandas", "numpy", "sqlalchemy", "alembic", "matplotlib", "psutil", "yaml"}
PLATFORM_DISTRIBUTIONS = {"dagster", "dagster-webserver", "dagster-graphql", "dagster-postgres", "dagster-dbt",
                          "dbt-core", "dbt-postgres", "great-expectations", "pandas", "sqlalchemy", "alembic",
                          "matplotlib", "psutil"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def imports_of(*modules: str) -> dict[str, str | None]:
    """Every module importing `modules` in a fresh interpreter loads beyond what it loaded by itself, with the
    file each came from (None for modules made in memory, e.g. by Cython or multiprocessing)."""
    script = ("import importlib, json, sys; before = set(sys.modules); "
              "[importlib.import_module(m) for m in sys.argv[1:]]; "
              "loaded = set(sys.modules) - before; "
              "print(json.dumps({m: getattr(sys.modules[m], '__file__', None) for m in loaded}))")
    result = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True,
                            timeout=60, check=True, cwd=REPO)
    return dict(json.loads(result.stdout))


def writer_imports() -> dict[str, str | None]:
    """The top-level modules (and their files) the writer's entry points load."""
    return {name: file for name, file in imports_of(*WRITER_ENTRY_POINTS).items() if "." not in name}


def base_closure() -> set[str]:
    """Every distribution the base dependencies bring, transitively (as installed here), normalized."""
    wanted = [Requirement(spec) for spec in _project()["dependencies"]]
    seen: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = _normalized(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(requirement.name) or []:
            nested = Requirement(spec)
            extras = requirement.extras or {""}
            if nested.marker is None or any(nested.marker.evaluate({"extra": extra}) for extra in extras):
                wanted.append(nested)
    return seen


def test_the_writer_imports_nothing_of_the_platform() -> None:
    loaded = set(writer_imports())
    assert "ingest_stream" in loaded
    assert not loaded & PLATFORM_ONLY, f"the writer imports {sorted(loaded & PLATFORM_ONLY)}"


def test_every_third_party_module_the_writer_imports_comes_from_a_base_dependency() -> None:
    owners = metadata.packages_distributions()
    closure = base_closure()
    installed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    third_party = {m for m, file in writer_imports().items()
                   if file is not None and any(file.startswith(folder) for folder in installed)}
    third_party.discard("ingest_stream")  # `pip install -e`: this checkout, not site-packages; but never count it
    outside = {m: owners.get(m) for m in third_party
               if not any(_normalized(d) in closure for d in owners.get(m, []))}
    assert not outside, f"imported by the writer but not brought by pyproject's base dependencies: {outside}"


def test_the_base_install_is_the_writer_and_dev_installs_the_platform_too() -> None:
    """`pip install tds-platform` is the writer alone; `make install` (`.[dev]`) still installs everything."""
    closure = base_closure()
    assert not closure & PLATFORM_DISTRIBUTIONS, f"the writer's install brings {closure & PLATFORM_DISTRIBUTIONS}"
    extras = _project()["optional-dependencies"]
    assert {_normalized(Requirement(spec).name) for spec in extras["platform"]} >= PLATFORM_DISTRIBUTIONS
    [itself] = [Requirement(spec) for spec in extras["dev"] if _normalized(Requirement(spec).name) == "tds-platform"]
    assert itself.extras == {"platform"}


def test_each_process_imports_only_its_own_side_and_what_both_share() -> None:
    """The worker reports plain data (handoff.py): it imports no receiver module, metric or health state (a
    metric set there would live in a registry no /metrics endpoint serves), nor paho; the receiver never
    imports the worker's pipeline."""
    worker = set(imports_of("ingest_stream.worker.process"))
    assert not {m for m in worker if m.startswith(("ingest_stream.receiver", "prometheus_client", "paho"))}
    receiver = set(imports_of("ingest_stream.receiver.service"))
    assert not {m for m in receiver if m.startswith("ingest_stream.worker")}
    assert "ingest_stream.handoff" in worker & receiver
