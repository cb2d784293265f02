"""`/listen` end to end: the real bot and discord.py's voice client against the fake Discord and the fake voice
server; what the voice server received is decrypted, decoded and checked for each song's tone, order, length and
20 ms pacing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import PROVIDER_KEY, RunningBot, eventually, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeSunoApi
from tests.fakes.voice import FakeVoiceServer, Played, make_certificates, played_songs
from tests.support.audio import ToneBank

SONG_SECONDS = 2.0
FRAME = 0.02


@dataclass
class Listening:
    discord: FakeDiscord
    voice: FakeVoiceServer
    running: RunningBot
    tones: ToneBank
    lounge: int  # a voice channel

    async def songs(self, count: int, user_id: int = USER_ID) -> list[str]:
        """`count` new songs by the member (two per /generate), their clip ids in order."""
        clips: list[str] = []
        while len(clips) < count:
            seen = frozenset(message.id for message in self.discord.messages(CHANNEL_ID))
            await self.discord.invoke_command("generate", {"prompt": "a tone", "title": f"Tone {len(clips)}"}, user_id)
            result = await self.discord.wait_for_message(CHANNEL_ID, new_result(seen))
            clips.extend(str(embed["url"]).rsplit("/", 1)[1] for embed in result.embeds)
        return clips[:count]

    async def join(self, user_id: int, channel_id: int | None) -> None:
        """A member joins a voice channel, once the bot has seen it."""
        await self.discord.join_voice(user_id, channel_id)
        guild = self.running.bot.get_guild(GUILD_ID)
        assert guild is not None

        def seen() -> bool:
            state = guild._voice_states.get(user_id)
            return (state.channel.id if state and state.channel else None) == channel_id

        await eventually(seen, what=f"the bot to see member {user_id} in voice channel {channel_id}")

    async def listen(self, song: str, user_id: int = USER_ID) -> str:
        """`/listen song:` and the reply's text."""
        command = await self.discord.invoke_command("listen", {"song": song}, user_id)
        reply = await command.wait_original(lambda m: not m.loading, timeout=20)
        return reply.content

    async def left(self) -> StoredMessage:
        """The message saying the bot left, once the voice session is over."""
        return await self.discord.wait_for_message(CHANNEL_ID, lambda m: m.content.startswith("👋"), timeout=30)

    def played(self, guild_id: int = GUILD_ID) -> list[Played]:
        return played_songs(self.voice.session_of(guild_id).packets)


@contextlib.asynccontextmanager
async def listening(tmp_path: Path, **env: str) -> AsyncIterator[Listening]:
    certificates = make_certificates(tmp_path / "tls")
    certificates.trust_in_process()
    async with (
        FakeVoiceServer(certificates) as voice,
        FakeDiscord(voice=voice) as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
    ):
        tones = ToneBank(SONG_SECONDS)
        suno.audio_factory = tones
        settings = settings_for(discord, tmp_path / "encore.db", {**provider_env(suno), **env})
        async with running_bot(discord, settings) as running:
            lounge = await discord.add_voice_channel("Lounge")
            yield Listening(discord, voice, running, tones, lounge)


def new_result(seen: frozenset[int]) -> Callable[[StoredMessage], bool]:
    return lambda message: message.id not in seen and message.content.startswith("🎶")


def assert_whole_and_steady(played: Played, tone: float) -> None:
    """One song heard whole: its tone, its length, 20 ms packets with no gap over 100 ms, RTP counters in step."""
    assert abs(played.frequency - tone) < 5, (played.frequency, tone)
    assert abs(played.seconds - SONG_SECONDS) <= 0.1, played.seconds
    assert played.longest_gap < 0.1, played.longest_gap
    assert abs(played.pace - FRAME) < 0.002, played.pace
    assert played.sequences_follow


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
