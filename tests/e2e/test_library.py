"""`/song` and `/songs` end to end: lineage of a generated song and its extension, buttons, paging, refusals."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe


def clip_ids(message: StoredMessage) -> list[str]:
    return [embed["url"].rsplit("/", 1)[1] for embed in message.embeds]


def custom_ids(message: StoredMessage) -> list[str]:
    return [button["custom_id"] for row in message.components for button in row["components"]]


async def test_song_shows_the_lineage_and_the_buttons(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        async with running_bot(discord, settings):
            await discord.invoke_command("generate", {"prompt": "a sea shanty", "title": "Tide"})
            original = await discord.wait_for_message(CHANNEL_ID, is_result)
            root = clip_ids(original)[0]
            await discord.invoke_command(
                "extend", {"song": root, "at": "0:10", "prompt": "a bridge", "title": "Tide II"}, user_id=OTHER_USER_ID
            )
            extension = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != original.id)
            await discord.wait_until(lambda: "🔁" in discord.bot_reactions(extension.id))  # the bot recorded it
            leaf = clip_ids(extension)[1]

            shown = await discord.invoke_command("song", {"song": f"https://suno.com/song/{leaf}"})
            answer = await shown.wait_original()
            assert not answer.ephemeral
            (embed,) = answer.embeds
            assert embed["title"] == "Tide II" and embed["url"].endswith(leaf)
            lines = embed["description"].split("\n")
            assert len(lines) == 2
            assert root in lines[0] and "new song" in lines[0] and f"<@{USER_ID}>" in lines[0]
            assert lines[1].startswith("→ ▶ ") and leaf in lines[1] and "extension from 0:10" in lines[1]
            assert f"<@{OTHER_USER_ID}>" in lines[1]
            fields = {field["name"]: field["value"] for field in embed["fields"]}
            assert fields["Made by"] == f"<@{OTHER_USER_ID}>" and re.fullmatch(r"<t:\d+:R>", fields["Made"])
            assert fields["Posted"].endswith(f"/{CHANNEL_ID}/{extension.id})")
            assert any(custom.startswith("encore:reroll:") for custom in custom_ids(answer))
            assert f"encore:extend:{leaf}" in custom_ids(answer)
            assert answer.allowed_mentions in (None, {"parse": []})

            unknown = await discord.invoke_command("song", {"song": "00000000-0000-4000-8000-000000000000"})
            refusal = await unknown.wait_original()
            assert refusal.ephemeral and "/songs" in refusal.content
            garbage = await discord.invoke_command("song", {"song": "not a song"})
            assert "Suno song link" in (await garbage.wait_original()).content


async def test_songs_lists_newest_first_with_ids_and_pages(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(
            discord,
            tmp_path / "encore.db",
            {
                **provider_env(apiframe),
                "MAX_ACTIVE_TASKS_PER_USER": "0",
            },
        )
        async with running_bot(discord, settings) as running:
            for number in range(5):
                await discord.invoke_command("generate", {"prompt": f"song {number}", "title": f"Song {number}"})
            await discord.wait_until(lambda: len([m for m in discord.messages(CHANNEL_ID) if is_result(m)]) == 5)
            made = {song.clip_id: song.created_at for song in await running.bot.store.recent_songs(USER_ID, limit=20)}
            assert len(made) == 10

            listed = await discord.invoke_command("songs", {})
            page = await listed.wait_original()
            assert page.ephemeral
            description = page.embeds[0]["description"]
            assert f"Songs by <@{USER_ID}>" in description and "(10)" in description
            first_ids = re.findall(r"`([0-9a-f-]{36})`", description)
            assert len(first_ids) == 8
            assert re.search(r"<t:\d+:R>", description)
            assert custom_ids(page) == [f"encore:songs:{USER_ID}:0", f"encore:songs:{USER_ID}:1"]
            assert page.components[0]["components"][0].get("disabled") is True

            await discord.click_button(page.id, f"encore:songs:{USER_ID}:1")
            turned = await listed.wait_original(lambda m: "Page 2 of 2" in m.embeds[0]["footer"]["text"])
            listed_ids = first_ids + re.findall(r"`([0-9a-f-]{36})`", turned.embeds[0]["description"])
            assert sorted(listed_ids) == sorted(made)
            ages = [made[clip] for clip in listed_ids]
            assert ages == sorted(ages, reverse=True)

            others = await discord.invoke_command("songs", {"user": OTHER_USER_ID})
            empty = await others.wait_original()
            assert f"<@{OTHER_USER_ID}> has no songs" in empty.embeds[0]["description"] and not empty.components
