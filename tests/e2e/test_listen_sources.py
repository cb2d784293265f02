"""`/listen`'s other sources: a chain's whole song, a member's songs, the most starred of a period."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.e2e.listen_harness import LONG_SONG_SECONDS, SONG_SECONDS, assert_whole_and_steady, listening, new_result
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID, StoredMessage
from tests.fakes.voice import played_songs
from tests.fakes.voice.audio import SAMPLE_RATE
from tests.support.audio import dominant_frequency


def clip_of(message: StoredMessage) -> str:
    return str(message.embeds[0]["url"]).rsplit("/", 1)[1]


async def test_a_members_songs_play_newest_first(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        older, newer = await setup.songs(2)  # one /generate: the second clip is the newer row
        await setup.join(OTHER_USER_ID, setup.lounge)
        assert f"Playing 2 of <@{USER_ID}>'s songs" in await setup.listen(None, OTHER_USER_ID, member=USER_ID)
        await setup.left()
        played = setup.played()
        for heard, clip in zip(played, (newer, older), strict=True):
            assert_whole_and_steady(heard, setup.tones.freq[clip])
        assert "has no song Encore can play" in await setup.listen(None, OTHER_USER_ID, member=OTHER_USER_ID)


async def test_the_most_starred_songs_of_the_week(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        await setup.join(USER_ID, setup.lounge)
        assert "No song has a ⭐ this week yet" in await setup.listen(None, top="week")
        first, _ = await setup.songs(2)
        (result,) = [m for m in setup.discord.messages(CHANNEL_ID) if m.embeds and clip_of(m) == first]
        store = setup.running.bot.store
        async with asyncio.timeout(5):
            while (task := await store.task_by_message(result.id)) is None:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
        await setup.discord.add_reaction(CHANNEL_ID, result.id, OTHER_USER_ID, "⭐")
        async with asyncio.timeout(5):
            while await store.star_count(task.id) != 1:  # noqa: ASYNC110 - the star's only trace is in the store
                await asyncio.sleep(0.01)
        assert "the 1 most starred songs this week" in await setup.listen(None, top="week")
        await setup.left()
        (heard,) = setup.played()
        assert_whole_and_steady(heard, setup.tones.freq[first])


async def test_a_chains_whole_song_plays_once_posted(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        (root,) = await setup.songs(1)
        seen = frozenset(m.id for m in setup.discord.messages(CHANNEL_ID))
        await setup.discord.invoke_command("extend", {"song": root, "at": "1", "lyrics": "la", "title": "Tone II"})
        extension = await setup.discord.wait_for_message(CHANNEL_ID, new_result(seen))
        last = clip_of(extension)
        await setup.join(USER_ID, setup.lounge)
        assert "press **Whole song** under it first" in await setup.listen(last, whole=True)
        await setup.discord.click_button(extension.id, f"encore:whole:{last}")
        whole = await setup.discord.wait_for_message(CHANNEL_ID, lambda m: m.content.startswith("🎼 The whole song"))
        press = await setup.discord.click_button(whole.id, f"encore:listen-whole:{last}")  # the post's Listen button
        assert "Playing **Tone II (whole song)**" in (await press.wait_original(lambda m: not m.loading)).content
        await setup.left()
        (heard,) = setup.played()
        assert abs(heard.seconds - (1.0 + SONG_SECONDS)) <= 0.15, heard.seconds
        assert heard.longest_gap < 0.1
        start, end = heard.samples[: int(0.8 * SAMPLE_RATE)], heard.samples[-int(1.5 * SAMPLE_RATE) :]
        assert abs(dominant_frequency(start, SAMPLE_RATE) - setup.tones.freq[root]) < 5
        assert abs(dominant_frequency(end, SAMPLE_RATE) - setup.tones.freq[last]) < 5


async def test_the_radio_plays_the_servers_songs_newest_first_without_end(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        await setup.join(USER_ID, setup.lounge)
        assert "This server has no song yet" in await setup.listen(None, radio="newest")
        older, newer = await setup.songs(2)
        assert "Playing the radio (newest first)" in await setup.listen(None, radio="newest")
        await setup.voice.wait_until(lambda: setup.voice.sessions_of(GUILD_ID), what="the voice session")
        session = setup.voice.session_of(GUILD_ID)

        def third_song_started() -> bool:
            heard = played_songs(session.packets)
            return len(heard) >= 3 and heard[2].seconds >= 0.3

        await setup.voice.wait_until(third_song_started, timeout=20, what="the radio's third song")
        assert await setup.press("stop") == "⏹️ Stopped."
        await setup.left()
        played = setup.played()
        assert [round(p.frequency) for p in played] == [round(setup.tones.freq[c]) for c in (newer, older, newer)]
        for heard, clip in zip(played[:2], (newer, older), strict=True):
            assert_whole_and_steady(heard, setup.tones.freq[clip])


async def test_the_listen_button_queues_while_the_database_is_locked(tmp_path: Path) -> None:
    """Saving the queue is the only write: a database locked past its timeout is logged, and the song plays."""
    async with listening(tmp_path, song_seconds=LONG_SONG_SECONDS) as setup:
        (root,) = await setup.songs(1)
        seen = frozenset(m.id for m in setup.discord.messages(CHANNEL_ID))
        await setup.discord.invoke_command("extend", {"song": root, "at": "1", "lyrics": "la", "title": "Tone II"})
        extension = await setup.discord.wait_for_message(CHANNEL_ID, new_result(seen))
        last = clip_of(extension)
        await setup.discord.click_button(extension.id, f"encore:whole:{last}")
        whole = await setup.discord.wait_for_message(CHANNEL_ID, lambda m: m.content.startswith("🎼 The whole song"))
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(root)
        await setup.heard(0.2)  # the session has saved its queue: the store is quiet
        writer = sqlite3.connect(setup.settings.database_path, isolation_level=None)  # another process writes
        try:
            writer.execute("BEGIN IMMEDIATE")
            press = await setup.discord.click_button(whole.id, f"encore:listen-whole:{last}")  # queues: a write
            text = (await press.wait_original(lambda m: not m.loading, timeout=20)).content
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert text == "📋 Queued **Tone II (whole song)**: number 1 in the queue."
        await setup.left()
        assert len(setup.played()) == 2
