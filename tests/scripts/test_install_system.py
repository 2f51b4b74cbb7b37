"""scripts/install-system.sh: idempotent when everything is there, one clear sentence when it cannot install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-system.sh"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env={**os.environ, **env},
                          timeout=60, check=False)


def test_second_run_installs_nothing() -> None:
    result = _run({})
    assert result.returncode == 0, result.stderr
    assert "already installed" in result.stdout


def test_without_root_it_names_what_to_install_and_the_alternative(tmp_path: Path) -> None:
    fake_id = tmp_path / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    # A PostgreSQL major that is not installed makes every package "missing".
    result = _run({"PATH": f"{tmp_path}:{os.environ['PATH']}", "PG_MAJOR": "99"})
    assert result.returncode == 1
    assert "postgresql-99" in result.stderr
    assert "timescaledb" in result.stderr
    assert "docker compose up" in result.stderr
