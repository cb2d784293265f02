"""A song's one Opus encode for voice: shared by everyone who asks for it at once, carried through when they give
up, and counted against the audio cache's size."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.service.listen import Track
from tests.e2e.harness import eventually
from tests.e2e.listen_harness import SONG_SECONDS, listening
from tests.fakes.discord import GUILD_ID, USER_ID


def encodes_of(caplog: pytest.LogCaptureFixture, clip: str) -> int:
    return sum(f"encoded {clip} to Opus" in record.getMessage() for record in caplog.records)


async def test_one_encode_per_song_even_when_everyone_who_asked_gives_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.service")
    async with listening(tmp_path) as setup:
        (clip,) = await setup.songs(1)
        audio = setup.running.bot.voice_players.audio
        track = Track(await audio.song(clip, guild_id=GUILD_ID), USER_ID)
        packets = setup.settings.audio_cache_dir / f"{clip}.opus"
        asking = [asyncio.create_task(audio.prepare(track)) for _ in range(3)]
        await asyncio.sleep(0)  # one turn of the loop, no waiting: each has asked, the first encode has begun
        for ask in asking:
            ask.cancel()  # e.g. the session whose next song it was ended
        await asyncio.gather(*asking, return_exceptions=True)
        await eventually(packets.exists, what="the encode to finish for whoever asks next")
        song = await audio.prepare(track)
        assert abs(song.duration - SONG_SECONDS) <= 0.05
        assert encodes_of(caplog, clip) == 1
        assert not list(packets.parent.glob("*.part"))


async def test_the_encoded_packets_and_picture_count_against_the_cache_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 120_000  # two songs' mp3s (about 50 kB each) fit, not with a song's packets and picture too
    monkeypatch.setattr("bot.app.AUDIO_CACHE_BYTES", limit)
    async with listening(tmp_path) as setup:
        first, _ = await setup.songs(2)
        folder = setup.settings.audio_cache_dir
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        await setup.left()
        sizes = {path.name: path.stat().st_size for path in folder.iterdir()}
        assert {f"{first}.mp3", f"{first}.opus", f"{first}.png"} <= set(sizes), sizes  # the newest are kept
        assert sum(sizes.values()) <= limit, sizes
