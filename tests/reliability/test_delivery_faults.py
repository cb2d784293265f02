"""What a provider's answer points Encore at when it delivers: private addresses, pages that are not audio, slow
CDNs, more clips than one message holds, odd clip ids. Each through the real bot and the fakes; every task ends
posted or undeliverable with a reason, never stuck, and nothing Encore was not meant to fetch reaches the channel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.domain.models import TaskStatus
from tests.e2e.harness import PROVIDER_KEY, eventually, running_bot
from tests.fakes.discord import CHANNEL_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe
from tests.reliability.harness import apiframe_settings, seeded_apiframe_options, tasks

MESSAGES = rf"/channels/{CHANNEL_ID}/messages"
SECRET_PAGE = b"<html>internal admin page: do not leak</html>"


def result_messages(discord: FakeDiscord) -> list[StoredMessage]:
    return [m for m in discord.messages(CHANNEL_ID) if m.content.startswith("🎶")]


def audio_fields(message: StoredMessage) -> list[str]:
    return [field["value"] for embed in message.embeds for field in embed["fields"] if field["name"] == "Audio"]


@pytest.fixture
async def internal_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A service on 127.0.0.1 that Encore was never told to trust (what an SSRF would reach), and its requests."""
    hits: list[str] = []

    async def internal(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=SECRET_PAGE, content_type="audio/mpeg")

    app = web.Application()
    app.router.add_get("/internal", internal)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", hits
    await runner.cleanup()


async def deliver_with(discord: FakeDiscord, apiframe: FakeApiframe, tmp_path: Path, clips: list[str]) -> None:
    """Run one /extend whose result holds `clips`, and wait until its task has ended."""
    apiframe.set_next_clips(clips)
    database = tmp_path / "encore.db"
    async with running_bot(discord, apiframe_settings(discord, apiframe, database)):
        await discord.invoke_command("extend", seeded_apiframe_options(apiframe))
        await eventually(
            lambda: (rows := tasks(database)) and rows[-1]["status"] in ("delivered", "undeliverable"),
            within=30,
            what="the task to end",
        )


async def test_media_at_an_untrusted_private_address_is_never_fetched_or_posted(
    tmp_path: Path, internal_server: tuple[str, list[str]]
) -> None:
    internal, hits = internal_server
    loopback, redirected, missing, cover = (str(uuid.uuid4()) for _ in range(4))
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.serve_media(loopback, audio_url=f"{internal}/internal")
        # A trusted origin (the provider's CDN) redirecting to the untrusted one is refused after the redirect.
        apiframe.serve_media(redirected, audio_url=apiframe.redirect_url(f"{internal}/internal"))
        apiframe.serve_media(missing, audio_url=f"{apiframe.base_url}/cdn/audio/gone")
        apiframe.serve_media(cover, image_url=f"{internal}/internal")
        await deliver_with(discord, apiframe, tmp_path, [loopback, redirected, missing, cover])
        [result] = result_messages(discord)
        posted = b"".join(attachment.data for attachment in result.attachments)
        assert SECRET_PAGE not in posted
        notes = audio_fields(result)
        assert sum("private address" in note for note in notes) == 2  # the loopback URL and the redirect to it
        assert any("HTTP 404" in note for note in notes)
        # The clip whose cover was private is posted with its audio, and without any cover.
        assert sum(a.filename.endswith(".mp3") for a in result.attachments) == 1
        assert sum(not a.filename.endswith(".mp3") for a in result.attachments) == 3
        assert [t["status"] for t in tasks(tmp_path / "encore.db")] == [TaskStatus.DELIVERED]
        assert hits == []  # refused before connecting, not after reading


async def test_a_page_that_is_not_audio_is_not_posted_as_an_mp3(tmp_path: Path) -> None:
    clip = str(uuid.uuid4())
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.serve_media(clip, audio_url=f"{discord.api_base}/gateway")  # a trusted origin answering JSON
        await deliver_with(discord, apiframe, tmp_path, [clip])
        [result] = result_messages(discord)
        assert not [a for a in result.attachments if a.filename.endswith(".mp3")]
        assert "not audio" in audio_fields(result)[0]


@pytest.mark.parametrize("count", [6, 11, 30])
async def test_more_clips_than_one_message_holds_are_split_over_several(tmp_path: Path, count: int) -> None:
    clips = [str(uuid.uuid4()) for _ in range(count)]
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY, audio_size=20_000) as apiframe:
        await deliver_with(discord, apiframe, tmp_path, clips)
        messages = result_messages(discord)
        posted = [embed["footer"]["text"].rsplit("clip ", 1)[1] for m in messages for embed in m.embeds]
        assert posted == clips  # every clip once, in order
        assert all(len(m.attachments) <= 10 and len(m.embeds) <= 10 for m in messages)
        assert len({m.nonce for m in messages}) == len(messages)
        assert tasks(tmp_path / "encore.db")[0]["result_message_id"] == messages[0].id


async def test_clip_ids_that_are_not_suno_ids_are_posted_without_extend_buttons(tmp_path: Path) -> None:
    upper, odd = str(uuid.uuid4()).upper(), "not_a_suno_clip_id"
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        await deliver_with(discord, apiframe, tmp_path, [upper, odd])
        [result] = result_messages(discord)
        custom_ids = [c["custom_id"] for row in result.components for c in row["components"]]
        assert f"encore:extend:{upper.lower()}" in custom_ids
        assert not [c for c in custom_ids if odd in c]
        assert len(result.embeds) == 2


async def test_a_retried_post_downloads_nothing_again(tmp_path: Path) -> None:
    clips = [str(uuid.uuid4()), str(uuid.uuid4())]
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        discord.inject("POST", MESSAGES, 500, times=2)
        await deliver_with(discord, apiframe, tmp_path, clips)
        assert len(result_messages(discord)) == 1
        for clip in clips:
            assert len(apiframe.calls(f"/cdn/audio/{clip}.mp3")) == 1


async def test_a_trickling_cdn_does_not_hold_up_other_results(tmp_path: Path) -> None:
    slow = [str(uuid.uuid4()) for _ in range(4)]
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY, audio_size=20_000) as apiframe:
        for clip in slow:
            apiframe.trickle(clip, 0.5)
            apiframe.set_next_clips([clip])
        healthy = str(uuid.uuid4())
        apiframe.set_next_clips([healthy])
        settings = apiframe_settings(discord, apiframe, database, MAX_ACTIVE_TASKS_PER_USER="0")
        async with running_bot(discord, settings):
            for number in range(5):
                await discord.invoke_command("extend", seeded_apiframe_options(apiframe, prompt=f"take {number}"))
                await apiframe.wait_for_submit()
            # The healthy result is posted while the four slow downloads are all still going.
            result = await discord.wait_for_message(
                CHANNEL_ID, lambda m: m.content.startswith("🎶") and healthy in str(m.embeds), timeout=15
            )
            assert all(row["status"] == "succeeded" for row in tasks(database) if row["id"] != 5)
            assert result.attachments
            # Each slow one gives up at the minimum rate and is posted without its trickled bytes.
            await eventually(
                lambda: len(result_messages(discord)) == 5, within=30, what="the slow results to be posted"
            )
        for message in result_messages(discord):
            if healthy not in str(message.embeds):
                assert not [a for a in message.attachments if a.filename.endswith(".mp3")]
                assert "slower than" in audio_fields(message)[0]


async def test_an_unexpected_failure_while_posting_ends_undeliverable_with_a_reason(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        # Discord "accepts" the post with a body discord.py cannot read: a KeyError deep in the client.
        discord.inject("POST", MESSAGES, 200, {}, times=10)
        async with running_bot(discord, apiframe_settings(discord, apiframe, database)):
            await discord.invoke_command("extend", seeded_apiframe_options(apiframe))
            await eventually(
                lambda: (rows := tasks(database)) and rows[-1]["status"] == "undeliverable",
                within=30,
                what="the task to end undeliverable",
            )
            dm = await discord.wait_for_dm(USER_ID, lambda m: "could not post" in m.content)
        assert "internal error" in tasks(database)[-1]["error"]
        assert "task #1" in dm.content
