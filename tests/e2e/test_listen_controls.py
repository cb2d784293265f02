"""The now-playing message and its buttons, leaving an empty channel, a disconnect or a move, and two servers at once,
checked on what the fake voice server heard."""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path

from PIL import Image

from tests.e2e.listen_harness import LONG_SONG_SECONDS, SONG_SECONDS, assert_whole_and_steady, is_now_playing, listening
from tests.fakes.discord import BOT_ID, CHANNEL_ID, GUILD_ID, OTHER_USER_ID, OWNER_ID, USER_ID, StoredMessage
from tests.fakes.voice import OPUS_SILENCE

THIRD_USER_ID = 1_200_000_000_000_000_303
FOURTH_USER_ID = 1_200_000_000_000_000_304


async def test_the_now_playing_message_shows_the_song_and_what_is_next(tmp_path: Path) -> None:
    async with listening(tmp_path, song_seconds=LONG_SONG_SECONDS) as setup:
        first, _, second = await setup.songs(3)  # a /generate makes two songs of one title
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        playing = (await setup.now_playing()).embeds[0]
        assert playing["title"] == "🎶 Tone 0" and playing["url"].endswith(first)
        assert "ends <t:" in playing["description"] and f"<#{setup.lounge}>" in playing["description"]
        await setup.listen(second)
        await setup.press("pause")  # holds the message still while it is checked

        def paused_with_next(message: StoredMessage) -> bool:
            return (
                is_now_playing(message) and message.embeds[0]["title"] == "⏸️ Tone 0" and "Tone 2" in str(message.embeds)
            )

        message = await setup.discord.wait_for_message(CHANNEL_ID, paused_with_next)
        (embed,) = message.embeds
        fields = {field["name"]: field["value"] for field in embed["fields"]}
        assert fields["Made by"] == f"<@{USER_ID}>" and fields["Queued by"] == f"<@{USER_ID}>"
        assert fields["Next"] == "Tone 2" and "paused at 0:" in embed["description"]
        assert embed["image"]["url"] == "attachment://waveform.png"
        picture = Image.open(io.BytesIO(message.attachment("waveform.png").data))
        assert picture.format == "PNG" and picture.size == (800, 160)
        labels = [button["label"] for row in message.components for button in row["components"]]
        assert labels == ["Skip", "Resume", "Stop", "Queue"]
        queue = await setup.press("queue", OTHER_USER_ID)
        assert queue.splitlines() == [f"▶️ **Tone 0** · <@{USER_ID}>", f"1. Tone 2 · <@{USER_ID}>"]
        await setup.press("pause")
        await setup.left()
        ended = setup.discord.message(message.id)
        assert ended is not None and not ended.components and ended.embeds[0]["title"] == "⏹️ Nothing playing"
        assert not ended.attachments
        shown = [version.at for version in ended.edits]  # every state but the last (the session's end)
        assert all((later - earlier).total_seconds() >= 1.9 for earlier, later in itertools.pairwise(shown))


async def test_skip_by_the_queuer_then_by_half_of_the_listeners(tmp_path: Path) -> None:
    async with listening(tmp_path, song_seconds=LONG_SONG_SECONDS) as setup:
        await setup.discord.add_member(THIRD_USER_ID, "third")
        first, second, third = await setup.songs(3)
        for member in (USER_ID, OTHER_USER_ID, THIRD_USER_ID):
            await setup.join(member, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.listen(third)
        await setup.heard(0.3)
        assert await setup.press("skip") == "⏭️ Skipped."  # the member who queued it
        await setup.heard(0.6 + 0.3)  # into the second song (some of the first was heard)
        session = setup.voice.session_of(GUILD_ID)
        await setup.voice.wait_until(lambda: len([p for p in session.packets if p.opus == OPUS_SILENCE]) >= 5)
        assert "1 of 2 needed" in await setup.press("skip", OTHER_USER_ID)
        assert await setup.press("skip", THIRD_USER_ID) == "⏭️ Skipped by vote."
        await setup.left()

        played = setup.played()
        assert [round(p.frequency) for p in played] == [round(setup.tones.freq[c]) for c in (first, second, third)]
        assert played[0].seconds < LONG_SONG_SECONDS - 0.5 and played[1].seconds < LONG_SONG_SECONDS
        assert_whole_and_steady(played[2], setup.tones.freq[third], LONG_SONG_SECONDS)


async def test_skip_votes_count_those_still_listening_and_only_listeners_pause(tmp_path: Path) -> None:
    async with listening(tmp_path, song_seconds=LONG_SONG_SECONDS) as setup:
        await setup.discord.add_member(THIRD_USER_ID, "third")
        await setup.discord.add_member(FOURTH_USER_ID, "fourth")
        first, second = await setup.songs(2)
        for member in (USER_ID, OTHER_USER_ID, THIRD_USER_ID, FOURTH_USER_ID):
            await setup.join(member, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.heard(0.2)
        assert "1 of 2 needed" in await setup.press("skip", OTHER_USER_ID)  # 4 listening: 2 votes needed
        await setup.join(OTHER_USER_ID, None)  # leaves: that vote no longer counts
        assert "1 of 2 needed" in await setup.press("skip", THIRD_USER_ID)
        assert "Join the voice channel to pause" in await setup.press("pause", OTHER_USER_ID)
        assert await setup.press("skip", FOURTH_USER_ID) == "⏭️ Skipped by vote."
        await setup.left()
        first_heard, second_heard = setup.played()
        assert first_heard.seconds < LONG_SONG_SECONDS - 0.5 and first_heard.longest_gap < 0.1  # never paused
        assert_whole_and_steady(second_heard, setup.tones.freq[second], LONG_SONG_SECONDS)


async def test_pause_sends_nothing_until_resume_and_the_song_is_still_heard_whole(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        (song,) = await setup.songs(1)
        await setup.join(USER_ID, setup.lounge)
        await setup.join(OTHER_USER_ID, setup.lounge)
        await setup.listen(song)
        await setup.heard(0.5)
        assert await setup.press("pause", OTHER_USER_ID) == "⏸️ Paused."  # any listener
        session = setup.voice.session_of(GUILD_ID)
        await setup.voice.wait_until(
            lambda: all(p.opus == OPUS_SILENCE for p in session.packets[-5:]), what="the pause's five silence frames"
        )
        paused_at = time.perf_counter()
        paused = await setup.discord.wait_for_message(
            CHANNEL_ID, lambda m: bool(m.embeds) and m.embeds[0]["title"].startswith("⏸️")
        )
        assert [b["label"] for b in paused.components[0]["components"]][1] == "Resume"
        resumed_at = time.perf_counter()
        assert await setup.press("pause") == "▶️ Resumed."
        await setup.left()

        assert not [p for p in session.audio if paused_at <= p.at <= resumed_at]
        before, after = setup.played()
        tone = setup.tones.freq[song]
        assert abs(before.frequency - tone) < 5 and abs(after.frequency - tone) < 5
        assert abs(before.seconds + after.seconds - SONG_SECONDS) <= 0.1
        assert before.longest_gap < 0.1 and after.longest_gap < 0.1


async def test_stop_is_for_the_starter_or_a_manager(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        first, second = await setup.songs(2)
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.heard(0.2)
        assert "Only the member who started this session" in await setup.press("stop", OTHER_USER_ID)
        assert await setup.press("stop", OWNER_ID) == "⏹️ Stopped."
        left = await setup.left()
        assert f"<@{OWNER_ID}> stopped the session" in left.content
        assert len(setup.played()) == 1 and setup.played()[0].seconds < SONG_SECONDS
        assert setup.discord.voice_channel_of(BOT_ID) is None


async def test_encore_leaves_a_channel_nobody_else_is_in(tmp_path: Path) -> None:
    async with listening(tmp_path, VOICE_IDLE_SECONDS="0") as setup:
        first, second = await setup.songs(2)
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.heard(0.2)
        await setup.join(USER_ID, None)
        left = await setup.left()
        assert "nobody else was in the channel" in left.content
        assert len(setup.played()) == 1 and setup.played()[0].seconds < SONG_SECONDS


async def test_a_disconnect_by_a_moderator_ends_the_session_cleanly(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        first, second = await setup.songs(2)
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.heard(0.2)
        await setup.discord.join_voice(BOT_ID, None)
        left = await setup.left()
        assert "disconnected" in left.content
        assert len(setup.played()) == 1
        assert "▶️ Playing" in await setup.listen(second)  # a new session, on a new voice connection
        await setup.voice.wait_until(lambda: len(setup.voice.sessions_of(GUILD_ID)) == 2, what="a second session")
        await setup.discord.wait_for_message(CHANNEL_ID, lambda m: m.content.startswith("👋") and m.id != left.id)
        assert_whole_and_steady(setup.played()[0], setup.tones.freq[second])


async def test_two_servers_play_at_the_same_time(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        other_guild, other_text = await setup.discord.add_guild("Second server")
        hall = await setup.discord.add_voice_channel("Hall", guild_id=other_guild)
        here = await setup.songs(1)
        there = await setup.songs(1, OTHER_USER_ID, other_text)
        await setup.join(USER_ID, setup.lounge)
        await setup.join(OTHER_USER_ID, hall, other_guild)
        await setup.listen(here[0])
        await setup.listen(there[0], OTHER_USER_ID, other_text)
        await setup.left()
        await setup.left(other_text)
        (mine,) = setup.played()
        (theirs,) = setup.played(other_guild)
        assert_whole_and_steady(mine, setup.tones.freq[here[0]])
        assert_whole_and_steady(theirs, setup.tones.freq[there[0]])
        assert mine.packets[0].at < theirs.packets[-1].at and theirs.packets[0].at < mine.packets[-1].at  # overlap


async def test_being_moved_to_another_channel_ends_the_session_cleanly(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        (song,) = await setup.songs(1)
        hall = await setup.discord.add_voice_channel("Hall")
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(song)
        await setup.heard(0.2)
        await setup.discord.join_voice(BOT_ID, hall)  # a moderator drags Encore elsewhere
        left = await setup.left()
        assert "moved to another channel" in left.content
        assert setup.discord.voice_channel_of(BOT_ID) is None
        assert len(setup.played()) == 1 and setup.played()[0].seconds < SONG_SECONDS


async def test_a_button_whose_answer_discord_refuses_still_answers_in_plain_words(tmp_path: Path) -> None:
    """discord.py only logs a persistent button's error: Encore answers it, so the member never sees "This
    interaction failed"."""
    async with listening(tmp_path) as setup:
        (song,) = await setup.songs(1)
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(song)
        message = await setup.now_playing()
        refused = {"message": "Invalid Form Body", "code": 50035}
        setup.discord.inject("POST", r"/interactions/[0-9]+/[^/]+/callback", 400, refused)
        press = await setup.discord.click_button(message.id, "encore:listen:queue", OTHER_USER_ID)
        reply = await press.wait_original()
        assert reply.ephemeral and reply.content == "⚠️ Something went wrong on Encore's side; try again in a moment."
        path = f"/interactions/{press.id}/{press.token}/callback"
        assert [r.status for r in setup.discord.requests if r.path == path] == [400, 200]
        await setup.left()
