"""`/generate` end to end on both providers: validate → submit → poll → post like an extend → 🔁 reroll → extend it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeSunoApi


def ever_said(fragment: str) -> Callable[[StoredMessage], bool]:
    """Whether a message shows, or showed before an edit, `fragment` (progress edits replace it quickly)."""
    return lambda message: any(fragment in text for text in (message.content, *(v.content for v in message.edits)))


def clip_ids(message: StoredMessage) -> list[str]:
    return [embed["url"].rsplit("/", 1)[1] for embed in message.embeds]


async def test_apiframe_generate_posts_rerolls_and_can_be_extended(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        async with running_bot(discord, settings):
            refused = await discord.invoke_command("generate", {"style": "folk"})
            refusal = await refused.wait_original(lambda message: not message.loading)
            assert refusal.ephemeral and "Give a `prompt`" in refusal.content
            assert apiframe.submits == []

            command = await discord.invoke_command(
                "generate", {"prompt": "a sea shanty about servers", "title": "Tide", "instrumental": True}
            )
            submit = await apiframe.wait_for_submit()
            assert submit.path == "/suno-imagine"
            assert submit.json == {
                "prompt": "a sea shanty about servers",
                "model": "V4_5",
                "make_instrumental": True,
                "title": "Tide",
            }
            accepted = await command.wait_original(ever_said("Making a new song"))
            assert accepted.ephemeral
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            assert "new song “Tide”" in result.content and f"<@{USER_ID}>" in result.content
            assert len([a for a in result.attachments if a.filename.endswith(".mp3")]) == 2
            assert [embed["title"] for embed in result.embeds] == ["Tide", "Tide"]
            assert all(field["name"] != "Extends" for embed in result.embeds for field in embed["fields"])
            assert result.allowed_mentions == {"parse": []}
            await command.wait_original(lambda message: "posted in the channel" in message.content)

            await discord.add_reaction(CHANNEL_ID, result.id, USER_ID, "🔁")
            reroll = await apiframe.wait_for_submit()
            assert (reroll.path, reroll.json) == (submit.path, submit.json)
            second = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != result.id)
            assert "Reroll of a new song “Tide”" in second.content

            first_clip = clip_ids(result)[0]
            follow_on = await discord.invoke_command("extend", {"song": first_clip, "at": "0:10", "prompt": "a bridge"})
            extend = await apiframe.wait_for_submit()
            assert extend.path == "/suno-extend"
            assert extend.json["parent_task_id"] == submit.task_id and extend.json["song_id"] == first_clip
            await follow_on.wait_original(ever_said("Extending"))


async def test_sunoapi_generate_with_lyrics_and_its_refusals(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.2, poll_per_second=20) as suno:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        async with running_bot(discord, settings):
            refused = await discord.invoke_command("generate", {"prompt": "calm", "instrumental": True})
            refusal = await refused.wait_original(lambda message: not message.loading)
            assert refusal.ephemeral and "not offered by this server's provider" in refusal.content

            await discord.invoke_command(
                "generate", {"lyrics": "[Verse]\nwe start from nothing", "style": "folk", "title": "Seed"}
            )
            submit = await suno.wait_for_submit()
            assert submit.path == "/suno/music/generate-music"
            assert submit.json == {"prompt": "[Verse]\nwe start from nothing", "tags": "folk", "title": "Seed"}
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            mp3s = sorted(a.data for a in result.attachments if a.filename.endswith(".mp3"))
            assert mp3s == sorted(suno.cdn_bytes(clip) for clip in clip_ids(result))
            assert suno.rate_limit_violations == []
