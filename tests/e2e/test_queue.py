"""`/queue` end to end: a member's and a manager's view, Cancel only before submission, quota given back."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, eventually, provider_env, running_bot, settings_for
from tests.fakes.discord import OTHER_USER_ID, OWNER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe

SLOW_FIRST_SUBMIT = 4.0


def custom_ids(message: StoredMessage) -> list[str]:
    return [button["custom_id"] for row in message.components for button in row["components"]]


async def test_queue_cancel_and_manager_view(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(
            discord,
            tmp_path / "encore.db",
            {
                **provider_env(apiframe),
                "MAX_ACTIVE_TASKS_PER_USER": "0",
                "DAILY_TASKS_PER_USER": "3",
            },
        )
        # The first submission hangs, so the tasks behind it stay queued while the test looks at them.
        apiframe.inject("/suno-imagine", status=None, delay=SLOW_FIRST_SUBMIT)
        async with running_bot(discord, settings) as running:
            for number in (1, 2, 3):
                command = await discord.invoke_command("generate", {"prompt": f"song {number}"})
                await command.wait_original(lambda m: "task #" in m.content)
            await eventually(lambda: apiframe.calls("/suno-imagine"), what="the hanging submission")
            over = await discord.invoke_command("generate", {"prompt": "song 4"})
            assert "used your songs for today" in (await over.wait_original(lambda m: not m.loading)).content
            await discord.invoke_command("generate", {"prompt": "theirs"}, user_id=OTHER_USER_ID)
            await discord.wait_until(lambda: discord.interactions[-1].original is not None)

            mine = await discord.invoke_command("queue", {})
            view = await mine.wait_original()
            assert view.ephemeral and view.embeds[0]["title"] == "⏳ Your queue"
            description = view.embeds[0]["description"]
            assert "**#1**" in description and "being submitted" in description
            assert "**#2** a new song\n⏳ queued, next in line" in description and "#2 in line" in description
            assert "theirs" not in description and f"<@{OTHER_USER_ID}>" not in description
            assert re.search(r"asked <t:\d+:R>", description)
            assert custom_ids(view) == ["encore:cancel:2", "encore:cancel:3"]

            stranger = await discord.click_button(view.id, "encore:cancel:2", user_id=OTHER_USER_ID)
            assert "not yours" in (await stranger.wait_followup()).content
            cancel = await discord.click_button(view.id, "encore:cancel:2")
            await cancel.wait_response()
            edited = await mine.wait_original(lambda m: "Cancelled task #2" in m.content)
            assert custom_ids(edited) == ["encore:cancel:3"]
            task = await running.bot.store.get_task(2)
            assert task is not None and task.status == "cancelled"

            again = await discord.invoke_command("generate", {"prompt": "song 4"})
            assert "task #" in (await again.wait_original(lambda m: not m.loading)).content

            manager = await discord.invoke_command("queue", {}, user_id=OWNER_ID)
            whole = await manager.wait_original()
            assert whole.embeds[0]["title"] == "⏳ Server queue"
            assert f"<@{OTHER_USER_ID}>" in whole.embeds[0]["description"]
            assert "encore:cancel:4" in custom_ids(whole) and "encore:cancel:2" not in custom_ids(whole)
            await discord.click_button(whole.id, "encore:cancel:4", user_id=OWNER_ID)
            await manager.wait_original(lambda m: "Cancelled task #4" in m.content)

            prompts: set[str] = set()
            while len(prompts) < 3:
                prompts.add((await apiframe.wait_for_submit(timeout=SLOW_FIRST_SUBMIT + 10)).json["prompt"])
            assert prompts == {"song 1", "song 3", "song 4"}
            assert "song 2" not in [call.json["prompt"] for call in apiframe.calls("/suno-imagine") if call.json]
