"""Song pages end to end with the real bot: off until a manager turns them on, then a Page button on each result
that opens its page on Encore's web server; Delete takes it down, and a server that removes Encore loses its pages."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from PIL import Image

from bot.app import EncoreBot
from bot.domain.models import TaskStatus
from bot.domain.pages import PageSettings
from bot.store.sqlite import SqliteStore
from tests.e2e.harness import PROVIDER_KEY, eventually, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.e2e.test_result_buttons import reply_text
from tests.e2e.test_whole_song import PART_SECONDS, is_whole_song, make_chain
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeSunoApi
from tests.support.audio import ToneBank

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
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.1, poll_per_second=50) as suno,
    ):
        env = {**provider_env(suno), "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1", "PUBLIC_URL": PUBLIC_URL}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings) as running, aiohttp.ClientSession() as http:
            assert running.bot.web_server is not None
            base = f"http://127.0.0.1:{running.bot.web_server.port}"
            await discord.invoke_command("extend", {"song": CLIP, "at": "95", "lyrics": "before"})
            unpublished = await discord.wait_for_message(CHANNEL_ID, is_result)
            assert page_links(unpublished) == []  # off until a manager turns them on

            refused = await discord.invoke_command("encore", {"pages": "on"}, subcommand="settings", user_id=USER_ID)
            assert "Manage Server" in str((await refused.wait_response()).data["content"])
            turned_on = await discord.invoke_command(
                "encore", {"pages": "on", "gallery": "on"}, subcommand="settings", user_id=OWNER_ID
            )
            answer = await turned_on.wait_original(lambda message: not message.loading)
            fields = {field["name"]: field["value"] for field in answer.embeds[0]["fields"]}
            gallery = re.search(rf"{PUBLIC_URL}/g/([A-Za-z0-9_-]+)", fields["Song pages"])
            assert gallery and fields["Song pages"].startswith("on")

            await discord.invoke_command("extend", {"song": CLIP, "at": "95", "lyrics": "after"})
            result = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != unpublished.id)
            await delivered(running.bot, result)
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


async def delivered(bot: EncoreBot, result: StoredMessage) -> None:
    """Wait until the result's task is recorded as delivered: its pages are recorded before that, after the post."""
    task_id = int(result.content.rsplit("#", 1)[1])
    deadline = time.monotonic() + 10
    while (task := await bot.store.get_task(task_id)) is None or task.status is not TaskStatus.DELIVERED:
        assert time.monotonic() < deadline, f"task {task_id} is not delivered"
        await asyncio.sleep(0.02)


async def eventually_async(read: Callable[[int], Awaitable[PageSettings]], guild_id: int) -> PageSettings:
    """The server's page settings once the removal's listener has turned them off (it runs after the event)."""
    deadline = time.monotonic() + 10
    while (found := await read(guild_id)).pages_on or found.gallery_id:
        assert time.monotonic() < deadline, "the server's pages are still on"
        await asyncio.sleep(0.02)
    return found


def on_shard(shard: int, of: int, near: int) -> int:
    """A guild id at or after `near` that Discord routes to `shard` of `of` shards."""
    while (near >> 22) % of != shard:
        near += 1 << 22
    return near


async def test_a_server_that_removed_encore_while_it_was_offline_loses_its_pages_at_the_next_start(
    tmp_path: Path,
) -> None:
    async with (
        FakeDiscord(shard_count=2) as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.1, poll_per_second=50) as suno,
    ):
        mine = (GUILD_ID >> 22) % 2  # this process runs the main guild's shard, the harness waits for it
        still_there, _ = await discord.add_guild("still there", shard=mine)
        gone = on_shard(mine, 2, still_there + (1 << 30))  # on this process's shard, and Discord no longer lists it
        elsewhere = on_shard(1 - mine, 2, still_there)  # another process's shard: not this one's to judge
        database = tmp_path / "encore.db"
        left_by_the_last_run = await SqliteStore.open(database)
        for guild in (still_there, gone, elsewhere):
            await left_by_the_last_run.set_pages_on(guild, True)
            await left_by_the_last_run.set_gallery(guild, f"gallery-{guild}")
        await left_by_the_last_run.close()
        env = {
            **provider_env(suno),
            "HTTP_PORT": "0",
            "WEBHOOK_HOST": "127.0.0.1",
            "PUBLIC_URL": PUBLIC_URL,
            "SHARD_COUNT": "2",
            "SHARD_IDS": str(mine),
        }
        async with running_bot(discord, settings_for(discord, database, env)) as running:
            store = running.bot.store
            assert await eventually_async(store.page_settings, gone) == PageSettings(gone)
            for kept in (still_there, elsewhere):  # judged in the same pass, before `gone` was turned off
                published = PageSettings(kept, pages_on=True, gallery_id=f"gallery-{kept}")
                assert await store.page_settings(kept) == published


async def test_a_whole_song_post_gets_a_page_that_plays_the_posted_whole_song(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.05, poll_per_second=50) as suno,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        env = {**provider_env(suno), "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1", "PUBLIC_URL": PUBLIC_URL}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings) as running, aiohttp.ClientSession() as http:
            assert running.bot.web_server is not None
            base = f"http://127.0.0.1:{running.bot.web_server.port}"
            turned_on = await discord.invoke_command("encore", {"pages": "on"}, subcommand="settings", user_id=OWNER_ID)
            await turned_on.wait_original(lambda message: not message.loading)  # answered once saved
            chain = await make_chain(discord)
            for result in chain.results:
                await delivered(running.bot, result)
            last = chain.results[-1]
            press = await discord.click_button(last.id, f"encore:whole:{chain.clips[-1]}")
            assert "Here is the whole song" in await reply_text(press)  # answered once posted and recorded
            whole = await discord.wait_for_message(CHANNEL_ID, is_whole_song)
            (whole_link,) = page_links(whole)
            whole_path = whole_link.removeprefix(PUBLIC_URL)

            async with http.get(base + whole_path) as response:
                html = await response.text()
                assert response.status == 200, html
            assert "Tone III · the whole song" in html and "by alice, bob, owner" in html
            assert "3 parts joined" in html
            async with http.get(f"{base}{whole_path}/audio") as response:
                assert response.status == 200 and response.headers["Content-Type"] == "audio/mpeg"
                assert (
                    await response.read()
                    == whole.attachment(next(a.filename for a in whole.attachments if a.filename.endswith(".mp3"))).data
                )
            async with http.get(f"{base}{whole_path}/waveform.png") as response:
                assert response.status == 200
                picture = Image.open(io.BytesIO(await response.read()))
                assert picture.size == (1200, 300)

            song_path = page_links(last)[0].removeprefix(PUBLIC_URL)
            async with http.get(base + song_path) as response:
                song_html = await response.text()
            assert f'src="{whole_path}/audio"' in song_html  # the song's page plays its whole song too
            parent_path = page_links(chain.results[1])[0].removeprefix(PUBLIC_URL)
            assert f'<a href="{parent_path}">Tone II</a>' in song_html and "continued from 0:04" in song_html


async def test_delete_on_a_song_card_deletes_the_result_post_after_taking_its_pages_down(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.1, poll_per_second=50) as suno,
    ):
        env = {**provider_env(suno), "HTTP_PORT": "0", "WEBHOOK_HOST": "127.0.0.1", "PUBLIC_URL": PUBLIC_URL}
        database = tmp_path / "encore.db"
        settings = settings_for(discord, database, env)
        async with running_bot(discord, settings) as running, aiohttp.ClientSession() as http:
            assert running.bot.web_server is not None
            base = f"http://127.0.0.1:{running.bot.web_server.port}"
            turned_on = await discord.invoke_command("encore", {"pages": "on"}, subcommand="settings", user_id=OWNER_ID)
            await turned_on.wait_original(lambda message: not message.loading)
            await discord.invoke_command("extend", {"song": CLIP, "at": "95", "lyrics": "words"})
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await delivered(running.bot, result)
            task_id = int(result.content.rsplit("#", 1)[1])
            clip_id = result.embeds[0]["footer"]["text"].rsplit("clip ", 1)[1]
            (link, _) = page_links(result)
            shown = await discord.invoke_command("song", {"song": clip_id})
            card = await shown.wait_original()

            # The store refuses the take-down: nothing is deleted, and the member is told so in plain words.
            with sqlite3.connect(database) as db:
                db.execute(
                    "CREATE TRIGGER refuse BEFORE UPDATE ON song_pages BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
                )
            refused = await discord.click_button(card.id, f"encore:delete:{task_id}")
            answer = await reply_text(refused)
            assert "could not take this song's web pages down" in answer and "nothing was deleted" in answer
            assert not discord.message(result.id).deleted  # type: ignore[union-attr]
            async with http.get(base + link.removeprefix(PUBLIC_URL)) as response:
                assert response.status == 200

            with sqlite3.connect(database) as db:
                db.execute("DROP TRIGGER refuse")
            deleted = await discord.click_button(card.id, f"encore:delete:{task_id}")
            assert "web pages are taken down" in await reply_text(deleted)
            assert discord.message(result.id).deleted  # type: ignore[union-attr]  # the post, not the card
            assert not discord.message(card.id).deleted  # type: ignore[union-attr]
            async with http.get(base + link.removeprefix(PUBLIC_URL)) as response:
                assert response.status == 404
