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
    ack = results["ack"]
    assert len(ack["rounds"]) == results["sizes"]["ack_rounds"] >= 2
    bots = ("encore", "bare", "bare_same_gc")
    assert all(r[bot]["n"] == results["sizes"]["burst"] for r in ack["rounds"] for bot in bots)
    assert ack["ratio_p99"] == round(ack["median"]["encore"]["p99_ms"] / ack["median"]["bare"]["p99_ms"], 2)
    same_gc = ack["median"]["bare_same_gc"]["p99_ms"]
    assert ack["ratio_p99_same_gc"] == round(ack["median"]["encore"]["p99_ms"] / same_gc, 2)
    load = results["provider_load"]
    assert load["rate_limit_answers"] == 0 and load["polls"] > 0  # the submissions were taken, and polled
    assert [part["mode"] for part in results["completion_to_post"]] == ["polling", "webhook"]
    assert all(part["n"] == results["sizes"]["deliveries"] for part in results["completion_to_post"])
    assert results["completion_to_post"][1]["fetch_requests"] == 0
    assert results["memory"]["peak_rss_mb"] > 0 and results["startup"]["ready_s"] > 0
    printed = "\n".join(lines).splitlines()
    assert any(line.startswith("| 1. Encore ÷ the floor") for line in printed)
    assert any(line.startswith("| 1. Encore ÷ that second floor") for line in printed)
    assert sum(line.startswith("| 2 |") for line in printed) == 1  # each round's figures


def test_the_tiny_sunoapi_org_bench_holds_the_budget_and_delivers_by_callback(tmp_path: Path) -> None:
    lines: list[str] = []
    output = tmp_path / "sunoapi_org.json"
    assert sunoapi_org.main(["--tiny", "--output", str(output)], out=lines.append) == 0
    results = json.loads(output.read_text())
    assert results["budget"]["submitted"] == results["sizes"]["in_flight"]
    assert results["budget"]["rate_limit_answers"] == 0
    assert results["callback_to_upload"]["n"] == results["sizes"]["deliveries"]
    # One record-info per callback: a call only says "look now", the result is read from the API.
    assert results["callback_to_upload"]["record_info_requests"] == results["sizes"]["deliveries"]
    assert any(line.startswith("| 2. callback → upload") for line in "\n".join(lines).splitlines())
