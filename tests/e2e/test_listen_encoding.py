"""A song's one Opus encode for voice: shared by everyone who asks for it at once, stopped when nobody waits for it
any more, and counted against the audio cache's size."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.service.listen import Track
from tests.e2e.harness import eventually
from tests.e2e.listen_harness import LONG_SONG_SECONDS, SONG_SECONDS, listening
from tests.fakes.discord import GUILD_ID, USER_ID
from tests.fakes.providers import FakeSunoApi


def downloads(suno: FakeSunoApi, path: str) -> int:
    return sum(request.path == path for request in suno.requests)


def encodes_of(caplog: pytest.LogCaptureFixture, clip: str) -> int:
    return sum(f"encoded {clip} to Opus" in record.getMessage() for record in caplog.records)


async def test_one_encode_per_song_for_everyone_asking_even_when_the_first_gives_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.service")
    async with listening(tmp_path) as setup:
        (clip,) = await setup.songs(1)
        (setup.settings.audio_cache_dir / f"{clip}.mp3").unlink()  # trimmed away: it is downloaded again
        download = f"/cdn/audio/{clip}.mp3"
        posted = downloads(setup.suno, download)  # to post the result
        setup.suno.inject(download, status=None, delay=1.0)  # a slow CDN: the first asker gives up meanwhile
        audio = setup.running.bot.voice_players.audio
        track = Track(await audio.song(clip, guild_id=GUILD_ID), USER_ID)
        first = asyncio.create_task(audio.prepare(track))
        await eventually(lambda: downloads(setup.suno, download) > posted, what="the first encode's download")
        others = [asyncio.create_task(audio.prepare(track)) for _ in range(2)]
        await asyncio.sleep(0)  # one turn of the loop, no waiting: both wait for that encode
        first.cancel()
        for song in await asyncio.gather(*others):
            assert abs(song.duration - SONG_SECONDS) <= 0.05
        assert downloads(setup.suno, download) == posted + 1
        assert encodes_of(caplog, clip) == 1
        assert not list(setup.settings.audio_cache_dir.glob("*.part"))


async def test_leaving_stops_encoding_the_next_song(tmp_path: Path) -> None:
    async with listening(tmp_path, song_seconds=LONG_SONG_SECONDS) as setup:
        older, _ = await setup.songs(2)
        (setup.settings.audio_cache_dir / f"{older}.mp3").unlink()  # trimmed away: it is downloaded again
        download = f"/cdn/audio/{older}.mp3"
        posted = downloads(setup.suno, download)  # to post the result
        setup.suno.inject(download, status=None, delay=60.0)  # the next song's audio is slow to come
        await setup.join(USER_ID, setup.lounge)
        assert "Playing 2 of" in await setup.listen(None, member=USER_ID)  # the newer first, the older next
        await eventually(lambda: downloads(setup.suno, download) > posted, what="the next song to be encoded ahead")
        assert await setup.press("stop") == "⏹️ Stopped."
        await setup.left()

        def still_encoding() -> list[str]:
            names = (task.get_name() for task in asyncio.all_tasks())
            return [name for name in names if name.startswith(("encore-voice-next", "encore-encode"))]

        await eventually(lambda: not still_encoding(), what="the encode ahead to stop")


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
