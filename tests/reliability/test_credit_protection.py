"""Credit protection end to end: per-user concurrent and daily limits, per-server daily limit, cooldown, allow-list,
rerolls counted, quota given back when the provider fails, duplicates collapsed; refusals say when to try again."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.harness import running_bot
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, USER_ID, FakeDiscord, InteractionRecord
from tests.reliability.harness import extend_options, fast_sunoapi, is_result, sunoapi_settings, tasks


async def answer(interaction: InteractionRecord) -> str:
    reply = await interaction.wait_original(lambda message: not message.loading)
    return reply.content


def retry_at(text: str) -> int:
    match = re.search(r"<t:(\d+):R>", text)
    assert match, f"no relative timestamp in {text!r}"
    return int(match.group(1))


async def test_concurrent_and_server_limits_and_duplicates(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        suno.script = [suno.default_script[0]]
        settings = sunoapi_settings(discord, suno, database, MAX_ACTIVE_TASKS_PER_USER="2", DAILY_TASKS_PER_GUILD="3")
        async with running_bot(discord, settings):
            assert "task #1" in await answer(await discord.invoke_command("extend", extend_options("one")))
            duplicate = await answer(await discord.invoke_command("extend", extend_options("one")))
            assert "already in the queue" in duplicate
            assert "task #2" in await answer(await discord.invoke_command("extend", extend_options("two")))
            third = await answer(await discord.invoke_command("extend", extend_options("three")))
            assert "at once" in third and "when one finishes" in third
            other = await discord.invoke_command("extend", extend_options("mine"), user_id=OTHER_USER_ID)
            assert "task #3" in await answer(other)
            late = await answer(await discord.invoke_command("extend", extend_options("late"), user_id=OTHER_USER_ID))
            assert "This server has used its songs for today" in late
            assert abs(retry_at(late) - (tasks(database)[0]["created_at"] + 86_400)) <= 1
            submitted = {(await suno.wait_for_submit()).json["prompt"] for _ in range(3)}
        assert submitted == {"one", "two", "mine"}
        assert len(tasks(database)) == 3 and len(suno.submits) == 3


async def test_daily_limit_counts_rerolls_and_gives_back_failed_tasks(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        settings = sunoapi_settings(discord, suno, database, DAILY_TASKS_PER_USER="2")
        async with running_bot(discord, settings):
            suno.set_script(None, ["submitted"])
            await discord.invoke_command("extend", extend_options("fails"))
            suno.fail((await suno.wait_for_submit()).task_id)
            await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
            await discord.invoke_command("extend", extend_options("works"))
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await discord.wait_until(lambda: "🔁" in discord.bot_reactions(result.id))
            await discord.add_reaction(CHANNEL_ID, result.id, USER_ID, "🔁")
            await suno.wait_for_submit()
            await suno.wait_for_submit()
            refused = await answer(await discord.invoke_command("extend", extend_options("one more")))
        assert "You have used your songs for today" in refused
        assert tasks(database)[0]["status"] == "failed" and len(tasks(database)) == 3
        assert abs(retry_at(refused) - (tasks(database)[1]["created_at"] + 86_400)) <= 1


@pytest.mark.parametrize("limit", ["cooldown", "allow-list"])
async def test_cooldown_and_allow_list(tmp_path: Path, limit: str) -> None:
    env = {"USER_COOLDOWN_SECONDS": "60"} if limit == "cooldown" else {"ALLOWED_GUILD_IDS": "42"}
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        async with running_bot(discord, sunoapi_settings(discord, suno, tmp_path / "encore.db", **env)):
            first = await answer(await discord.invoke_command("extend", extend_options("first")))
            second = await answer(await discord.invoke_command("extend", extend_options("second")))
        if limit == "cooldown":
            assert "task #1" in first and "Slow down" in second
            assert abs(retry_at(second) - (time.time() + 60)) <= 3
            assert len(suno.submits) == 1
        else:
            assert "not enabled on this server" in first and "not enabled on this server" in second
            assert suno.requests == []
