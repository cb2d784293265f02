"""`python -m bench.pages` runs to its table at a tiny size, so the page bench cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.browser import chromium_path

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_bench_prints_its_figures() -> None:
    chromium_path()
    finished = subprocess.run(
        [sys.executable, "-m", "bench.pages", "--clients", "4", "--requests", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    lines = finished.stdout.splitlines()
    assert lines[0] == "| measurement | result | goal |"
    assert any(line.startswith("| weight of a song page in Chromium | 5 requests") for line in lines)
    assert sum("time to first byte" in line for line in lines) == 4
