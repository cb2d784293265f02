"""`/listen` tests' setup: the real bot and discord.py's voice client against the fake Discord and the fake voice
server, songs made of tones by the provider fake, and the checks of what the voice server heard."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from tests.e2e.harness import PROVIDER_KEY, RunningBot, eventually, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeSunoApi
from tests.fakes.voice import FakeVoiceServer, Played, make_certificates, played_songs
from tests.support.audio import ToneBank

SONG_SECONDS = 2.0
LONG_SONG_SECONDS = 4.0
"""For tests that press buttons while a song plays: room for a slow interaction on a busy machine."""
FRAME = 0.02


@dataclass
class Listening:
    discord: FakeDiscord
    voice: FakeVoiceServer
    running: RunningBot
    tones: ToneBank
    lounge: int  # a voice channel
    settings: Settings

    async def songs(self, count: int, user_id: int = USER_ID, channel_id: int = CHANNEL_ID) -> list[str]:
        """`count` new songs by the member in a channel's server (two per /generate), their clip ids in order."""
        clips: list[str] = []
        while len(clips) < count:
            seen = frozenset(message.id for message in self.discord.messages(channel_id))
            title = f"Tone {len(clips)}"
            await self.discord.invoke_command("generate", {"prompt": "a tone", "title": title}, user_id, channel_id)
            result = await self.discord.wait_for_message(channel_id, new_result(seen))
            clips.extend(str(embed["url"]).rsplit("/", 1)[1] for embed in result.embeds)
        return clips[:count]

    async def join(self, user_id: int, channel_id: int | None, guild_id: int = GUILD_ID) -> None:
        """A member joins a voice channel (or leaves voice with None), once the bot has seen it."""
        await self.discord.join_voice(user_id, channel_id, guild_id=guild_id)
        guild = self.running.bot.get_guild(guild_id)
        assert guild is not None

        def seen() -> bool:
            state = guild._voice_states.get(user_id)
            return (state.channel.id if state and state.channel else None) == channel_id

        await eventually(seen, what=f"the bot to see member {user_id} in voice channel {channel_id}")

    async def listen(
        self, song: str | None, user_id: int = USER_ID, channel_id: int = CHANNEL_ID, **options: object
    ) -> str:
        """`/listen song:` (or other options) and the reply's text."""
        values = {"song": song, **options} if song is not None else options
        command = await self.discord.invoke_command("listen", values, user_id, channel_id)
        reply = await command.wait_original(lambda m: not m.loading, timeout=20)
        return reply.content

    async def press(self, action: str, user_id: int = USER_ID, channel_id: int = CHANNEL_ID) -> str:
        """Press a button of the now-playing message; the (ephemeral) answer's text."""
        message = await self.now_playing(channel_id)
        press = await self.discord.click_button(message.id, f"encore:listen:{action}", user_id)
        return (await press.wait_original()).content

    async def now_playing(self, channel_id: int = CHANNEL_ID) -> StoredMessage:
        return await self.discord.wait_for_message(channel_id, is_now_playing)

    async def left(self, channel_id: int = CHANNEL_ID) -> StoredMessage:
        """The message saying the bot left, once the voice session is over."""
        return await self.discord.wait_for_message(channel_id, lambda m: m.content.startswith("👋"), timeout=30)

    async def heard(self, seconds: float, guild_id: int = GUILD_ID) -> None:
        """Wait until the voice server has received `seconds` of sound from the guild's session."""
        needed = round(seconds / FRAME)

        def enough() -> bool:
            sessions = self.voice.sessions_of(guild_id)
            return bool(sessions) and len(sessions[-1].audio) >= needed

        await self.voice.wait_until(enough, what=f"{seconds:g} s of sound from guild {guild_id}")

    def played(self, guild_id: int = GUILD_ID) -> list[Played]:
        return played_songs(self.voice.session_of(guild_id).packets)


def is_now_playing(message: StoredMessage) -> bool:
    return "encore:listen:skip" in str(message.components)


@contextlib.asynccontextmanager
async def listening(tmp_path: Path, song_seconds: float = SONG_SECONDS, **env: str) -> AsyncIterator[Listening]:
    certificates = make_certificates(tmp_path / "tls")
    certificates.trust_in_process()
    async with (
        FakeVoiceServer(certificates) as voice,
        FakeDiscord(voice=voice) as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
    ):
        tones = ToneBank(song_seconds)
        suno.audio_factory = tones
        settings = settings_for(discord, tmp_path / "encore.db", {**provider_env(suno), **env})
        async with running_bot(discord, settings) as running:
            lounge = await discord.add_voice_channel("Lounge")
            yield Listening(discord, voice, running, tones, lounge, settings)


def new_result(seen: frozenset[int]) -> Callable[[StoredMessage], bool]:
    return lambda message: message.id not in seen and message.content.startswith("🎶")


def assert_whole_and_steady(played: Played, tone: float, seconds: float = SONG_SECONDS) -> None:
    """One song heard whole: its tone, its length, 20 ms packets with no gap over 100 ms, RTP counters in step."""
    assert abs(played.frequency - tone) < 5, (played.frequency, tone)
    assert abs(played.seconds - seconds) <= 0.1, played.seconds
    assert played.longest_gap < 0.1, played.longest_gap
    assert abs(played.pace - FRAME) < 0.002, played.pace
    assert played.sequences_follow
