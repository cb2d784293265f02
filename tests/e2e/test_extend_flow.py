"""`/extend` end to end: the real bot, the fake Discord, each provider's fake; submit → poll → post → 🔁 reroll."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeProvider, FakeSunoApi

CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
DEFERRED_EPHEMERAL = (5, 64)


async def assert_result_message(discord: FakeDiscord, provider: FakeProvider, message: StoredMessage) -> None:
    """Two clips: each mp3 attached byte for byte, its cover inside its embed; no one pinged; 🔁 added."""
    mp3s = [attachment for attachment in message.attachments if attachment.filename.endswith(".mp3")]
    covers = [attachment for attachment in message.attachments if attachment.filename.startswith("cover-")]
    assert len(mp3s) == 2 and len(covers) == 2
    clip_ids = [embed["footer"]["text"].rsplit("clip ", 1)[1] for embed in message.embeds]
    assert sorted(attachment.data for attachment in mp3s) == sorted(provider.cdn_bytes(clip) for clip in clip_ids)
    assert [embed["image"]["url"] for embed in message.embeds] == [
        "attachment://cover-1.jpeg",
        "attachment://cover-2.jpeg",
    ]
    assert all(cover.data.startswith(b"\xff\xd8") for cover in covers)
    requested_by = [
        field["value"] for embed in message.embeds for field in embed["fields"] if field["name"] == "Requested by"
    ]
    assert requested_by == [f"<@{USER_ID}>"] * 2
    assert message.allowed_mentions == {"parse": []}
    assert message.nonce is not None
    await discord.wait_until(lambda: "🔁" in discord.bot_reactions(message.id))


async def test_sunoapi_extend_posts_the_songs_and_rerolls(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.2, poll_per_second=20) as suno,
    ):
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        async with running_bot(discord, settings):
            command = await discord.invoke_command(
                "extend",
                {
                    "song": f"https://suno.com/song/{CLIP}",
                    "at": "1:05",
                    "lyrics": "[Verse]\nwe keep on going",
                    "style": "dream pop",
                    "title": "Echoes",
                },
            )
            response = await command.wait_response()
            assert (response.type, response.data.get("flags")) == DEFERRED_EPHEMERAL
            submit = await suno.wait_for_submit()
            assert submit.json == {
                "prompt": "[Verse]\nwe keep on going",
                "tags": "dream pop",
                "title": "Echoes",
                "continue_clip_id": CLIP,
                "continue_at": 65.0,
            }
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await assert_result_message(discord, suno, result)
            assert "Echoes" in result.embeds[0]["title"]
            await command.wait_original(lambda message: "posted in the channel" in message.content)

            await discord.add_reaction(CHANNEL_ID, result.id, OTHER_USER_ID, "🔁")
            await discord.add_reaction(CHANNEL_ID, result.id, USER_ID, "🔁")
            await discord.add_reaction(CHANNEL_ID, result.id, USER_ID, "🔁")
            reroll = await suno.wait_for_submit()
            assert reroll.json == submit.json
            second = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != result.id)
            await assert_result_message(discord, suno, second)
            assert len(suno.submits) == 2
            assert suno.rate_limit_violations == []


async def test_apiframe_extend_of_an_unseen_song_then_reroll(tmp_path: Path) -> None:
    parent, song = str(uuid.uuid4()), str(uuid.uuid4())
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        apiframe.seed_task(parent, songs=[song, str(uuid.uuid4())])
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        async with running_bot(discord, settings):
            missing_task = await discord.invoke_command("extend", {"song": song, "at": "30", "prompt": "faster"})
            refusal = await missing_task.wait_original(lambda message: not message.loading)
            assert "add `task:`" in refusal.content
            command = await discord.invoke_command(
                "extend",
                {
                    "song": song,
                    "task": parent,
                    "at": "0:30.5",
                    "prompt": "faster",
                    "style": "synthwave",
                    "model": "V4_5",
                },
            )
            submit = await apiframe.wait_for_submit()
            assert submit.json == {
                "parent_task_id": parent,
                "song_id": song,
                "continue_at": 30.5,
                "prompt": "faster",
                "model": "V4_5",
                "tags": "synthwave",
            }
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await assert_result_message(discord, apiframe, result)
            statuses = [version.content for version in (command.original.edits if command.original else [])]
            assert any("generating ▰▰▰▰▰▱▱▱▱▱ 56%" in status for status in statuses)

            await discord.add_reaction(CHANNEL_ID, result.id, USER_ID, "🔁")
            reroll = await apiframe.wait_for_submit()
            assert reroll.json == submit.json
            await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != result.id)

            new_clip = result.embeds[0]["footer"]["text"].rsplit("clip ", 1)[1]
            choices = await discord.autocomplete("extend", {"song": ""}, focused="song")
            assert new_clip in [choice["value"] for choice in choices]
            follow_on = await discord.invoke_command("extend", {"song": new_clip, "prompt": "an outro"})
            chained = await apiframe.wait_for_submit()
            assert chained.json["parent_task_id"] == reroll.task_id or chained.json["parent_task_id"] == submit.task_id
            assert chained.json["song_id"] == new_clip
            await follow_on.wait_original(lambda message: "task #" in message.content)


async def test_queued_requests_see_their_place_move_up(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=1.0, poll_per_second=20) as suno,
    ):
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        async with running_bot(discord, settings):
            commands = [
                await discord.invoke_command(
                    "extend", {"song": CLIP, "at": "10", "prompt": f"take {user}"}, user_id=user
                )
                for user in (USER_ID, OTHER_USER_ID, OWNER_ID)
            ]
            last = commands[-1]
            await last.wait_original(lambda message: "submitted" in message.content)
            shown = [version.content for version in last.original.edits] if last.original else []
            assert any("#3 in line" in text or "#2 in line" in text for text in shown)
            assert any("queued, next in line" in text for text in shown)
            await discord.wait_until(lambda: len([m for m in discord.messages(CHANNEL_ID) if is_result(m)]) == 3)
            assert suno.rate_limit_violations == []
