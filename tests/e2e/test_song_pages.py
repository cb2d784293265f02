"""Song pages end to end with the real bot: off until a manager turns them on, then a Page button on each result
that opens its page on Encore's web server; Delete takes it down, and a server that removes Encore loses its pages."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bot.domain.pages import PageSettings
from tests.e2e.harness import PROVIDER_KEY, eventually, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.e2e.test_result_buttons import reply_text
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeSunoApi

PUBLIC_URL = "https://encore.example"


def page_links(message: StoredMessage) -> list[str]:
    """The URLs of the message's Page link buttons (style 5)."""
    return [
        str(button["url"])
        for row in message.components
        for button in row["components"]
        if button.get("style") == 5 and str(button.get("label", "")).startswith("Page")
    ]


async def test_pages_off_by_default_then_a_page_per_song_until_deleted(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.1, poll_per_second=50) as suno:
        env = {**provider_env(suno), "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1", "PUBLIC_URL": PUBLIC_URL}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings) as running, aiohttp.ClientSession() as http:
            assert running.bot.webhooks is not None
            base = f"http://127.0.0.1:{running.bot.webhooks.port}"
            await discord.invoke_command("extend", {"song": CLIP, "at": "95", "lyrics": "before"})
            unpublished = await discord.wait_for_message(CHANNEL_ID, is_result)
            assert page_links(unpublished) == []  # off until a manager turns them on

            refused = await discord.invoke_command("encore", {"pages": "on"}, subcommand="settings", user_id=USER_ID)
            assert "Manage Server" in str((await refused.wait_response()).data["content"])
            turned_on = await discord.invoke_command(
                "encore", {"pages": "on", "gallery": "on"}, subcommand="settings", user_id=OWNER_ID
            )
            answer = await turned_on.wait_response()
            fields = {field["name"]: field["value"] for field in answer.data["embeds"][0]["fields"]}
            gallery = re.search(rf"{PUBLIC_URL}/g/([A-Za-z0-9_-]+)", fields["Song pages"])
            assert gallery and fields["Song pages"].startswith("on")

            await discord.invoke_command("extend", {"song": CLIP, "at": "95", "lyrics": "after"})
            result = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != unpublished.id)
            links = page_links(result)
            assert len(links) == 2 and all(link.startswith(f"{PUBLIC_URL}/s/") for link in links)
            for link in links:
                async with http.get(base + link.removeprefix(PUBLIC_URL)) as response:
                    html = await response.text()
                    assert response.status == 200, html
                assert "by alice" in html and str(USER_ID) not in html
                assert f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{result.id}" in html
            async with http.get(f"{base}/g/{gallery[1]}") as response:
                assert response.status == 200

            task_id = int(result.content.rsplit("#", 1)[1])
            deleted = await discord.click_button(result.id, f"encore:delete:{task_id}")
            assert "web pages are taken down" in await reply_text(deleted)  # written before the answer
            for link in links:
                async with http.get(base + link.removeprefix(PUBLIC_URL)) as response:
                    assert response.status == 404

            await discord.remove_bot_from_guild(GUILD_ID)
            await eventually(lambda: running.bot.get_guild(GUILD_ID) is None, what="the server gone")
            settings_now = await eventually_async(running.bot.store.page_settings, GUILD_ID)
            assert settings_now.gallery_id is None and not settings_now.pages_on
            async with http.get(f"{base}/g/{gallery[1]}") as response:
                assert response.status == 404


async def eventually_async(read: Callable[[int], Awaitable[PageSettings]], guild_id: int) -> PageSettings:
    """The server's page settings once the removal's listener has turned them off (it runs after the event)."""
    deadline = time.monotonic() + 10
    while (found := await read(guild_id)).pages_on or found.gallery_id:
        assert time.monotonic() < deadline, "the server's pages are still on"
        await asyncio.sleep(0.02)
    return found
