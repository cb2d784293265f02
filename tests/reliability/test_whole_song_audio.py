"""Hostile audio in a whole song, through the real `python -m bot` process: a FLAC whose header claims 8 s but
holds minutes (finding 2), a part with a damaged frame, and a part that is mostly damage (finding 8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bot.audio.join import running_builds
from bot.service import wholesong as wholesong_service
from tests.e2e.harness import PROVIDER_KEY, provider_env, running_bot, settings_for
from tests.e2e.test_result_buttons import reply_text
from tests.e2e.test_whole_song import CUTS, PART_SECONDS, decoded, is_whole_song, make_chain
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import BotProcess, sunoapi_env
from tests.support.audio import ToneBank, damaged_mp3, dominant_frequency, lying_flac, tone_bytes

DISCORD_TOKEN = "whole-song-audio-discord-token"
CLAIMED_SECONDS = 8.0
REAL_SECONDS = 120.0
MARGIN_SECONDS = 1.0
"""What the build may decode past a part's stated length (`DECODE_MARGIN_SECONDS`)."""


@dataclass
class Built:
    discord: FakeDiscord
    answer: str
    output: str
    last_tone: float


async def build_whole_song(tmp_path: Path, last_part: Callable[[float], bytes]) -> Built:
    """Make the chain (its last part's audio `last_part(tone)`), press for its whole song."""
    bank = ToneBank(PART_SECONDS)
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord,
        FakeSunoApi(submit_interval=0.2, poll_per_second=20) as suno,
    ):

        def audio(clip_id: str) -> bytes:
            tone = bank(clip_id)  # the third task's clips are asked for only after its submission
            return last_part(bank.freq[clip_id]) if len(suno.submits) >= 3 else tone

        suno.audio_factory = audio
        bot = await BotProcess.start(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
        try:
            chain = await make_chain(discord)
            press = await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
            answer = await reply_text(press)
        finally:
            assert await bot.terminate() == 0, bot.output
        return Built(discord, answer, bot.output, bank.freq[chain.clips[-1]])


async def test_a_flac_that_lies_about_its_length_is_decoded_only_to_its_stated_length(tmp_path: Path) -> None:
    built = await build_whole_song(tmp_path, lambda tone: lying_flac(tone, REAL_SECONDS, CLAIMED_SECONDS))
    assert "Here is the whole song" in built.answer, built.output
    (whole,) = [message for message in built.discord.messages(CHANNEL_ID) if is_whole_song(message)]
    samples, rate, _ = decoded(whole)
    # 5 + 4 s of the first two parts, then at most the FLAC's stated 8 s and the margin; never its two minutes.
    assert len(samples) / rate <= CUTS[0] + CUTS[1] + CLAIMED_SECONDS + MARGIN_SECONDS + 0.05
    assert len(samples) / rate >= CUTS[0] + CUTS[1] + CLAIMED_SECONDS - 0.05
    assert "re-encoded" in whole.embeds[0]["footer"]["text"]  # a FLAC's frames cannot be copied into an MP3


async def test_a_damaged_frame_is_skipped_and_the_song_still_made(tmp_path: Path) -> None:
    built = await build_whole_song(tmp_path, lambda tone: damaged_mp3(tone_bytes(tone, PART_SECONDS), frames=3))
    assert "Here is the whole song" in built.answer, built.output
    (whole,) = [message for message in built.discord.messages(CHANNEL_ID) if is_whole_song(message)]
    samples, rate, _ = decoded(whole)
    # Each skipped frame is 26 ms of the last part; the rest of the song is all there.
    assert len(samples) / rate >= CUTS[0] + CUTS[1] + PART_SECONDS - 3 * 0.027 - 0.05
    last = samples[round((CUTS[0] + CUTS[1] + 0.5) * rate) : round((CUTS[0] + CUTS[1] + 6.5) * rate)]
    assert abs(dominant_frequency(last, rate) - built.last_tone) < 2


async def test_a_part_that_is_mostly_damage_is_refused_in_plain_words(tmp_path: Path) -> None:
    noise = np.random.default_rng(3).integers(0, 255, 300_000, dtype=np.uint8).tobytes().replace(b"\xff", b"\x00")

    def mostly_damage(tone: float) -> bytes:
        return tone_bytes(tone, PART_SECONDS)[:20_000] + noise

    built = await build_whole_song(tmp_path, mostly_damage)
    assert "part 3 of the chain" in built.answer and "damaged" in built.answer, built.output
    assert "Errno" not in built.answer and "Invalid data" not in built.answer and "avcodec" not in built.answer
    assert not [message for message in built.discord.messages(CHANNEL_ID) if is_whole_song(message)]


async def test_a_build_past_its_deadline_stops_before_a_second_press_can_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A last part at another sample rate is re-encoded, for longer than a (shortened) deadline: the press is told
    it took too long only once the build has stopped, and the next press builds afresh, alone."""
    monkeypatch.setattr(wholesong_service, "BUILD_DEADLINE_SECONDS", 1.0)
    bank = ToneBank(PART_SECONDS)
    long_part = tone_bytes(330.0, 120.0, sample_rate=48_000)
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno,
    ):

        def audio(clip_id: str) -> bytes:
            tone = bank(clip_id)
            return long_part if len(suno.submits) >= 3 else tone

        suno.audio_factory = audio
        async with running_bot(discord, settings_for(discord, tmp_path / "encore.db", provider_env(suno))):
            chain = await make_chain(discord)
            leaf = chain.clips[-1]
            first = await discord.click_button(chain.results[-1].id, f"encore:whole:{leaf}")
            assert "took too long" in await reply_text(first)
            assert running_builds() == 0  # stopped, not running on behind the answer
            second = await discord.click_button(chain.results[-1].id, f"encore:whole:{leaf}")
            assert "took too long" in await reply_text(second)
            assert running_builds() == 0
        assert not [message for message in discord.messages(CHANNEL_ID) if is_whole_song(message)]
