"""The Dockerfile, read instruction by instruction (no engine here to build it), and its entrypoint.

Two targets: `writer` installs the base of pyproject.toml (the stream writer alone), `platform`
installs `.[platform]`; each must run as an unprivileged user and only COPY what exists in the
build context.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "docker" / "entrypoint.sh"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = REPO.joinpath("Dockerfile").read_text().replace("\\\n", " ")
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each build stage's instructions, those of the stage it is built FROM first."""
    built: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for kind, args in instructions():
        if kind == "FROM":
            image, _, name = args.partition(" AS ")
            current = [*built.get(image, [(kind, image)])]
            built[name or image] = current
        else:
            current.append((kind, args))
    return built


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in REPO.joinpath(".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return any(fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("/") + "/") for pattern in patterns)


def test_built_on_python_311_slim() -> None:
    for name, steps in stages().items():
        assert steps[0] == ("FROM", "python:3.11-slim"), name


def _installed(steps: list[tuple[str, str]]) -> tuple[str, str]:
    """(what `pip install` installs, everything COPYed before it)."""
    install = next(i for i, (kind, args) in enumerate(steps) if kind == "RUN" and "pip install " in args)
    copied = " ".join(args for kind, args in steps[:install] if kind == "COPY")
    assert "pyproject.toml" in copied, "pyproject.toml is not in the image before `pip install`"
    return steps[install][1].split("pip install ", 1)[1].split(" ", 1)[0], copied


def test_the_writer_image_installs_the_writer_alone() -> None:
    """The writer's image carries what the writer runs: the base install, without the platform extra or code."""
    steps = stages()["writer"]
    target, copied = _installed(steps)
    assert target == "."
    assert "ingest_stream" in copied
    assert not any("tds_platform" in args or "dbt_metrics" in args for kind, args in steps if kind == "COPY")
    assert not any("dbt " in args for kind, args in steps if kind == "RUN")
    assert ("CMD", '["tds-ingest", "run"]') in steps
    install = next(args for kind, args in steps if kind == "RUN" and "pip install " in args)
    assert '"$(command -v tds)"' in install, "the writer image keeps a `tds` command whose code it does not carry"


def test_the_platform_image_installs_the_platform_extra() -> None:
    target, copied = _installed(stages()["platform"])
    assert target == "'.[platform]'"
    for package in ("ingest_stream", "tds_platform"):
        assert package in copied, f"{package} is not in the image before `pip install`"


def test_the_default_target_is_the_platform() -> None:
    """`docker build .` without --target builds the last stage: the image every service but the writers runs."""
    last_from = [args for kind, args in instructions() if kind == "FROM"][-1]
    assert last_from.endswith(" AS platform")


@pytest.mark.parametrize("target", ["writer", "platform"])
def test_runs_as_an_unprivileged_user(target: str) -> None:
    steps = stages()[target]
    users = [args for kind, args in steps if kind == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    created = " ".join(args for kind, args in steps if kind == "RUN")
    assert "useradd" in created
    assert f" {users[-1]}" in created


def test_every_copied_file_is_in_the_build_context() -> None:
    for kind, args in instructions():
        if kind != "COPY":
            continue
        words = [word for word in shlex.split(args) if not word.startswith("--")]
        for source in words[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert not ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_dbt_manifest_is_parsed_at_build_time() -> None:
    runs = " ".join(args for kind, args in stages()["platform"] if kind == "RUN")
    assert "dbt parse --project-dir dbt_metrics" in runs


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for path in (".env", ".tds", ".venv", ".git"):
        assert ignored(path), path


@pytest.mark.parametrize(("preset", "expected"), [(None, "hostname"), ("writer-7", "writer-7")])
def test_entrypoint_gives_each_container_a_stable_instance_id(preset: str | None, expected: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TDS_INSTANCE_ID"}
    if preset:
        env["TDS_INSTANCE_ID"] = preset
    result = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", 'echo "$TDS_INSTANCE_ID"'], env=env,
                            capture_output=True, text=True, timeout=10, check=True)
    hostname = subprocess.run(["hostname"], capture_output=True, text=True, check=True).stdout.strip()
    assert result.stdout.strip() == (hostname if expected == "hostname" else expected)
