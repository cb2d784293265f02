"""`/listen` end to end: what the fake voice server received is decrypted, decoded and checked for each song's tone,
order, length and 20 ms pacing; refusals come before any voice connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.listen_harness import assert_whole_and_steady, listening
from tests.fakes.discord import GUILD_ID, OTHER_USER_ID, USER_ID


async def test_two_songs_play_in_order_whole_and_steady_then_encore_leaves(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        first, second = await setup.songs(2)
        await setup.join(USER_ID, setup.lounge)
        assert "▶️ Playing **Tone 0**" in await setup.listen(first)
        assert "number 1 in the queue" in await setup.listen(second)
        left = await setup.left()
        assert "the queue has ended" in left.content

        session = setup.voice.session_of(GUILD_ID)
        assert session.channel_id == setup.lounge and session.dave_version and session.dave_version > 0
        assert not session.refused and not setup.voice.unexpected
        played = setup.played()
        assert len(played) == 2
        for heard, clip in zip(played, (first, second), strict=True):
            assert_whole_and_steady(heard, setup.tones.freq[clip])
        assert setup.discord.voice_updates[-1]["channel_id"] is None  # it left with op 4
        assert setup.discord.voice_channel_of(setup.discord.bot_user.id) is None


async def test_a_member_outside_voice_is_told_to_join_one(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        (song,) = await setup.songs(1)
        command = await setup.discord.invoke_command("listen", {"song": song})
        reply = await command.wait_original()
        assert reply.ephemeral and "Join a voice channel first" in reply.content
        assert not setup.discord.voice_updates


@pytest.mark.parametrize("denied", [("connect",), ("speak",), ("connect", "speak")])
async def test_missing_voice_permissions_are_named(tmp_path: Path, denied: tuple[str, ...]) -> None:
    async with listening(tmp_path) as setup:
        (song,) = await setup.songs(1)
        await setup.discord.deny_permission(setup.lounge, *denied)
        await setup.join(USER_ID, setup.lounge)
        command = await setup.discord.invoke_command("listen", {"song": song})
        text = (await command.wait_original()).content
        for name in denied:
            assert name.capitalize() in text, text
        assert not setup.discord.voice_updates


async def test_other_members_songs_and_unknown_songs_are_refused(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        await setup.join(OTHER_USER_ID, setup.lounge)
        text = await setup.listen("3f2a1c9b-1111-4222-8333-444455556666", OTHER_USER_ID)
        assert "has not made that song on this server" in text
        assert "must be a Suno song link" in await setup.listen("not a song", OTHER_USER_ID)
        assert not setup.discord.voice_updates


async def test_limits_are_explained_and_nothing_playing_is_disturbed(tmp_path: Path) -> None:
    async with listening(tmp_path, VOICE_QUEUE_SIZE="1", VOICE_MAX_SESSIONS="1") as setup:
        other_guild, other_text = await setup.discord.add_guild("Second server")
        hall = await setup.discord.add_voice_channel("Hall", guild_id=other_guild)
        first, second, third = await setup.songs(3)
        (elsewhere,) = await setup.songs(1, OTHER_USER_ID, other_text)
        await setup.join(USER_ID, setup.lounge)
        await setup.join(OTHER_USER_ID, hall, other_guild)
        await setup.listen(first)
        assert "number 1 in the queue" in await setup.listen(second)
        assert "The queue of this server is full (1 songs)" in await setup.listen(third)
        refused = await setup.listen(elsewhere, OTHER_USER_ID, other_text)
        assert "already playing in 1 voice channel, as many as this bot runs at once" in refused
        await setup.left()
        assert [round(p.frequency) for p in setup.played()] == [round(setup.tones.freq[c]) for c in (first, second)]
        assert not setup.voice.sessions_of(other_guild)


async def test_a_song_longer_than_the_limit_is_refused_before_joining(tmp_path: Path) -> None:
    async with listening(tmp_path, VOICE_MAX_SONG_SECONDS="60") as setup:
        (song,) = await setup.songs(1)  # the provider says its songs are 2 to 4 minutes long
        await setup.join(USER_ID, setup.lounge)
        text = await setup.listen(song)
        assert "long; this bot plays songs up to 1:00" in text
        assert not setup.discord.voice_updates


async def test_a_stage_needs_encore_to_be_allowed_to_speak(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        (song,) = await setup.songs(1)
        stage = await setup.discord.add_voice_channel("Stage", stage=True)
        await setup.join(USER_ID, stage)
        refused = await setup.listen(song)
        assert f"joined the stage <#{stage}> but may not speak there" in refused
        assert setup.discord.voice_channel_of(setup.discord.bot_user.id) is None  # it left again
        await setup.discord.allow_permission(stage, "mute_members")
        assert f"Playing **Tone 0** in <#{stage}>" in await setup.listen(song)
        await setup.left()
        assert_whole_and_steady(setup.played()[0], setup.tones.freq[song])
        assert (GUILD_ID, setup.discord.bot_user.id) not in setup.discord.suppressed
        assert not setup.voice.session_of(GUILD_ID).refused  # every packet came after Encore was let speak
