"""scripts/_venv.sh: a restart with nothing changed does no pip work; a changed pyproject.toml installs again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_venv(project: Path) -> None:
    subprocess.run(["bash", "-c", f". {ROOT / 'scripts' / '_venv.sh'} && ensure_venv ."], cwd=project, check=True)


def test_a_second_start_installs_nothing(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    calls = tmp_path / "calls"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')  # stands in for the venv's python: records pip runs
    python.chmod(0o755)
    ensure_venv(tmp_path)
    assert "-m pip install --quiet -e ." in calls.read_text()
    calls.unlink()
    ensure_venv(tmp_path)
    assert not calls.exists()
    with (tmp_path / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency\n")
    ensure_venv(tmp_path)
    assert "-m pip install" in calls.read_text()
