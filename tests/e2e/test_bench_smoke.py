"""The benchmark (bench/) in its tiny configuration, so it cannot rot: every part runs and reports its figures."""

from __future__ import annotations

import json
from pathlib import Path

from bench import sunoapi_org
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


def test_the_tiny_sunoapi_org_bench_holds_the_budget_and_delivers_by_callback(tmp_path: Path) -> None:
    lines: list[str] = []
    output = tmp_path / "sunoapi_org.json"
    assert sunoapi_org.main(["--tiny", "--output", str(output)], out=lines.append) == 0
    results = json.loads(output.read_text())
    assert results["budget"]["submitted"] == results["sizes"]["in_flight"]
    assert results["budget"]["rate_limit_answers"] == 0
    assert results["callback_to_upload"]["n"] == results["sizes"]["deliveries"]
    assert results["callback_to_upload"]["record_info_requests"] == 0
    assert any(line.startswith("| 2. callback → upload") for line in "\n".join(lines).splitlines())
