"""A restart in the middle of a queue: the queue waits in the store, and the next start plays on where it was,
or says why it cannot."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import running_bot
from tests.e2e.listen_harness import SONG_SECONDS, assert_whole_and_steady, listening
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID, StoredMessage
from tests.fakes.voice import played_songs


def is_left(message: StoredMessage) -> bool:
    return message.content.startswith("👋")


async def test_a_restart_mid_queue_goes_on_where_it_was(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        first, second, third = await setup.songs(3)
        await setup.join(USER_ID, setup.lounge)
        for song in (first, second, third):
            await setup.listen(song)
        await setup.heard(0.6)
        await setup.running.stop()
        stopped = await setup.left()
        assert "restarting" in stopped.content
        (before,) = setup.played()
        async with running_bot(setup.discord, setup.settings) as again:
            resumed = await setup.discord.wait_for_message(CHANNEL_ID, lambda m: m.content.startswith("🔁"))
            assert f"the queue in <#{setup.lounge}> goes on where it was" in resumed.content
            await setup.discord.wait_for_message(CHANNEL_ID, lambda m: is_left(m) and m.id != stopped.id, timeout=30)
            assert await again.bot.store.listen_sessions() == []  # the queue ended: nothing left saved
        sessions = setup.voice.sessions_of(GUILD_ID)
        assert len(sessions) == 2
        rest, *others = played_songs(sessions[1].packets)
        tone = setup.tones.freq[first]
        assert abs(rest.frequency - tone) < 5 and abs(before.frequency - tone) < 5
        assert abs(before.seconds + rest.seconds - SONG_SECONDS) <= 0.15, (before.seconds, rest.seconds)
        assert [round(p.frequency) for p in others] == [round(setup.tones.freq[c]) for c in (second, third)]
        for heard, clip in zip(others, (second, third), strict=True):
            assert_whole_and_steady(heard, setup.tones.freq[clip])


async def test_a_queue_that_cannot_go_on_after_a_restart_says_why(tmp_path: Path) -> None:
    async with listening(tmp_path) as setup:
        first, second = await setup.songs(2)
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.heard(0.3)
        await setup.running.stop()
        await setup.left()
        await setup.discord.deny_permission(setup.lounge, "speak")
        async with running_bot(setup.discord, setup.settings) as again:
            refused = await setup.discord.wait_for_message(
                CHANNEL_ID, lambda m: m.content.startswith("⚠️ Encore restarted")
            )
            assert f"Encore may no longer connect and speak in <#{setup.lounge}>" in refused.content
            assert await again.bot.store.listen_sessions() == []
        assert len(setup.voice.sessions_of(GUILD_ID)) == 1
