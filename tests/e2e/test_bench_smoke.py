"""The benchmark (bench/) in its tiny configuration, so it cannot rot: every part runs and reports its figures."""

from __future__ import annotations

import json
from pathlib import Path

from bench.run import main


def test_the_tiny_bench_runs_every_part_and_writes_its_json(tmp_path: Path) -> None:
    lines: list[str] = []
    output = tmp_path / "latest.json"
    assert main(["--tiny", "--output", str(output)], out=lines.append) == 0
    results = json.loads(output.read_text())
    assert results["burst"]["n"] == results["sizes"]["burst"]
    assert results["burst_bare_discord_py"]["n"] == results["sizes"]["burst"]
    assert results["provider_load"]["rate_limit_answers"] == 0
    assert [part["mode"] for part in results["completion_to_post"]] == ["polling", "webhook"]
    assert all(part["n"] == results["sizes"]["deliveries"] for part in results["completion_to_post"])
    assert results["completion_to_post"][1]["fetch_requests"] == 0
    assert results["memory"]["peak_rss_mb"] > 0 and results["startup"]["ready_s"] > 0
    assert any(line.startswith("| 1. answer latency") for line in "\n".join(lines).splitlines())
