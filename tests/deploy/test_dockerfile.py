"""The Dockerfile, read instruction by instruction (no engine here to build it), and its entrypoint.

It must install the project from pyproject.toml, run as an unprivileged user, and only COPY what
exists in the build context.
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


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in REPO.joinpath(".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return any(fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("/") + "/") for pattern in patterns)


def test_built_on_python_311_slim() -> None:
    assert instructions()[0] == ("FROM", "python:3.11-slim")


def test_installs_the_project_from_pyproject() -> None:
    steps = instructions()
    copy_pyproject = next(i for i, (kind, args) in enumerate(steps) if kind == "COPY" and "pyproject.toml" in args)
    install = next(i for i, (kind, args) in enumerate(steps) if kind == "RUN" and "pip install ." in args)
    assert copy_pyproject < install
    copied = " ".join(args for kind, args in steps[:install] if kind == "COPY")
    for package in ("ingest_stream", "tds_platform"):
        assert package in copied, f"{package} is not in the image before `pip install .`"


def test_runs_as_an_unprivileged_user() -> None:
    steps = instructions()
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
    runs = " ".join(args for kind, args in instructions() if kind == "RUN")
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
