"""The showcase and /top end to end: ⭐ counted in SQLite across a restart, exactly one repost, the leaderboard."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.store import Store
from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import BOT_ID, CHANNEL_ID, OTHER_USER_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe

THIRD_USER_ID = 1_200_000_000_000_000_303
FOURTH_USER_ID = 1_200_000_000_000_000_304
STAR = "⭐"


def clip_ids(message: StoredMessage) -> list[str]:
    return [embed["url"].rsplit("/", 1)[1] for embed in message.embeds]


async def stored(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Wait for the bot to have written something to SQLite (a reaction event's effect has no Discord-side trace)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - SQLite has no change notification to wait on
            await asyncio.sleep(0.01)


async def test_stars_across_a_restart_repost_the_result_exactly_once(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        for member, name in ((THIRD_USER_ID, "third"), (FOURTH_USER_ID, "fourth")):
            await discord.add_member(member, name)
        showcase = await discord.add_channel("showcase")
        async with running_bot(discord, settings) as running:
            changed = await discord.invoke_command(
                "encore", {"showcase_channel": showcase, "star_threshold": 3}, subcommand="settings", user_id=OWNER_ID
            )
            assert "✅ Saved." in (await changed.wait_original(lambda m: not m.loading)).content
            empty = await discord.invoke_command("top", {})
            board = (await empty.wait_original()).embeds[0]
            assert board["title"].endswith("this week") and "No song has a ⭐ yet" in board["description"]
            await discord.invoke_command("generate", {"prompt": "a sea shanty", "title": "Tide"})
            original = await discord.wait_for_message(CHANNEL_ID, is_result)
            await discord.invoke_command(
                "extend", {"song": clip_ids(original)[0], "at": "0:10", "prompt": "more"}, user_id=OTHER_USER_ID
            )
            result = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != original.id)
            await stored(lambda: delivered(running.bot.store, result.id))
            task = await running.bot.store.task_by_message(result.id)
            assert task is not None and task.requester_id == OTHER_USER_ID

            for member in (OTHER_USER_ID, BOT_ID, USER_ID, FOURTH_USER_ID):  # own star, the bot's, then one taken back
                await discord.add_reaction(CHANNEL_ID, result.id, member, STAR)
            await stored(lambda: has_stars(running.bot.store, task.id, 2))
            await discord.remove_reaction(CHANNEL_ID, result.id, FOURTH_USER_ID, STAR)
            await stored(lambda: has_stars(running.bot.store, task.id, 1))

        async with running_bot(discord, settings) as running:
            await asyncio.gather(
                discord.add_reaction(CHANNEL_ID, result.id, THIRD_USER_ID, STAR),
                discord.add_reaction(CHANNEL_ID, result.id, FOURTH_USER_ID, STAR),
            )
            repost = await discord.wait_for_message(showcase)
            assert "community favourite" in repost.content and f"<#{CHANNEL_ID}>" in repost.content
            assert repost.allowed_mentions == {"parse": []} and repost.nonce == f"encore-star-{task.id}"
            (embed,) = repost.embeds
            fields = {field["name"]: field["value"] for field in embed["fields"]}
            assert fields["Made by"] == f"<@{USER_ID}> <@{OTHER_USER_ID}>"
            assert fields["Stars"] == "⭐ 3"
            assert fields["Original post"].endswith(f"/{CHANNEL_ID}/{result.id})")
            assert embed["url"].endswith(clip_ids(result)[0]) and "extension from 0:10" in embed["description"]
            assert any(
                button["custom_id"].startswith("encore:extend:") for button in repost.components[0]["components"]
            )
            await stored(lambda: showcased(running.bot.store, task.id, repost.id))

            await discord.add_reaction(CHANNEL_ID, result.id, OWNER_ID, STAR)
            await stored(lambda: has_stars(running.bot.store, task.id, 4))
            top = await discord.invoke_command("top", {"period": "day"})
            board = (await top.wait_original()).embeds[0]
            assert len(discord.messages(showcase)) == 1

            lines = board["description"].split("\n")
            assert board["title"] == "🏆 Most starred songs · today"
            assert lines[0].startswith("🥇 [") and f"/{CHANNEL_ID}/{result.id}) by <@{OTHER_USER_ID}>" in lines[0]
            assert re.fullmatch(r"⭐ 4 · posted <t:\d+:R>", lines[1])
            assert len(lines) == 2  # the unstarred original is not ranked


async def has_stars(store: Store, task_id: int, count: int) -> bool:
    return await store.star_count(task_id) == count


async def showcased(store: Store, task_id: int, message_id: int) -> bool:
    task = await store.get_task(task_id)
    return task is not None and task.showcase_message_id == message_id


async def delivered(store: Store, message_id: int) -> bool:
    return await store.task_by_message(message_id) is not None
