"""LOG_FORMAT=json: the real `python -m bot` writes one JSON object per line, the key task events carry the task
and the member, and the token and key are redacted as in text logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.harness import eventually
from tests.fakes.discord import CHANNEL_ID, USER_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import CLIP, BotProcess, extend_options, is_result, sunoapi_env, tasks

DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.json-token-that-must-never-leak"
PROVIDER_KEY = "sk-suno-json-key-that-must-never-leak"


async def test_json_logs_follow_each_task_and_its_member(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.2, poll_per_second=20) as suno,
    ):
        bot = await BotProcess.start(sunoapi_env(discord, suno, database, LOG_FORMAT="json"), tmp_path)
        await discord.invoke_command("extend", extend_options("a good one"))
        await discord.wait_for_message(CHANNEL_ID, is_result)
        suno.set_script(None, ["submitted"])
        await discord.invoke_command("extend", extend_options("a failing one"))
        await suno.wait_for_submit()
        suno.fail((await suno.wait_for_submit()).task_id, "generation failed")
        await eventually(lambda: len(tasks(database)) == 2 and tasks(database)[1]["status"] == "failed")
        assert await bot.terminate() == 0

    entries: list[dict[str, Any]] = [json.loads(line) for line in bot.lines]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    for secret in (DISCORD_TOKEN, PROVIDER_KEY):
        assert secret not in bot.output
    by_task = [entry for entry in entries if "task_id" in entry]
    for task_id, events in ((1, ("queued", "submitted", "delivered")), (2, ("queued", "submitted", "failed"))):
        for event in events:
            [entry] = [e for e in by_task if e["task_id"] == task_id and f"task {task_id} {event}" in e["message"]]
            assert entry["user_id"] == USER_ID and entry["logger"] == "bot.service"
