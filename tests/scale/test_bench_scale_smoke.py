"""The multi-process benchmark (bench/scale.py) in its tiny configuration, so it cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

from bench.scale import main
from tests.support.postgres import server_url


def test_the_tiny_scale_bench_runs_every_part(tmp_path: Path) -> None:
    server_url()  # skips (or fails, in CI) without PostgreSQL
    lines: list[str] = []
    output = tmp_path / "scale.json"
    assert main(["--tiny", "--output", str(output)], out=lines.append) == 0
    results = json.loads(output.read_text())
    assert [run["rate_limit_answers"] for run in results["provider_budget"]] == [0, 0]
    assert all(run["peak_polls_in_1s"] <= run["limit_per_s"] for run in results["provider_budget"])
    assert results["takeover"]["taken_over"] == results["takeover"]["held_by_killed_process"] > 0
    assert results["gateway_load"]["events_sent"]["MESSAGE_CREATE"] > 0  # to the bot with default intents only
    assert set(results["store"]) >= {"sqlite", "postgres"}
    assert any(line.startswith("| 1. sunoapi.co budget") for line in "\n".join(lines).splitlines())
