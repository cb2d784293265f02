"""The audio cache only ever saves work: threads writing and reading one clip never collide or see half a file, a
folder Encore cannot write is reported (at start and by `python -m bot check`) and skipped, a write that fails
mid-run leaves the clip uncached while results and whole songs are still posted, and temporary files a crash left
behind are removed once stale and counted against the size until then."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.media.cache import STALE_PART_SECONDS, AudioCache
from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_whole_song import ROOT, is_whole_song, make_chain
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import BotProcess, fast_sunoapi, sunoapi_env
from tests.support.audio import ToneBank

THREADS = 8
ROUNDS = 60
CLIP_BYTES = 256 * 1024


def test_threads_writing_and_reading_one_clip_never_collide_or_tear(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "cache", max_bytes=64 * CLIP_BYTES)
    versions = []
    for number in range(THREADS // 2):
        version = tmp_path / f"version-{number}.mp3"
        version.write_bytes(bytes([number + 1]) * CLIP_BYTES)
        versions.append(version)
    whole = {version.read_bytes() for version in versions}
    start = threading.Barrier(THREADS)

    def write(number: int) -> int:
        start.wait()
        return sum(cache.put(ROOT, versions[number]) for _ in range(ROUNDS))

    def read(number: int) -> int:
        start.wait()
        torn = 0
        for round_ in range(ROUNDS):
            copy = tmp_path / f"copy-{number}-{round_}.mp3"
            if cache.copy_out(ROOT, copy):
                torn += copy.read_bytes() not in whole
        return torn

    with ThreadPoolExecutor(THREADS) as pool:
        writers = [pool.submit(write, number) for number in range(THREADS // 2)]
        readers = [pool.submit(read, number) for number in range(THREADS // 2)]
        assert [writer.result() for writer in writers] == [ROUNDS] * (THREADS // 2)  # every write kept, none raised
        assert [reader.result() for reader in readers] == [0] * (THREADS // 2)  # no reader saw a mix of versions
    assert not list(cache.folder.glob("*.part"))


def test_a_crashs_temporary_files_are_removed_once_stale_and_counted_until_then(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    stale = folder / f"{ROOT}.12345.part"
    stale.write_bytes(b"x" * 500)
    long_ago = time.time() - STALE_PART_SECONDS - 60
    os.utime(stale, (long_ago, long_ago))
    in_progress = folder / "3f2a1c9b-0000-4222-8333-444455556666.777.part"  # another process is writing it now
    in_progress.write_bytes(b"y" * 500)
    cache = AudioCache(folder, max_bytes=1000)

    assert cache.check() is None  # what Encore runs at start
    assert not stale.exists() and in_progress.exists()
    first, second = tmp_path / "first.mp3", tmp_path / "second.mp3"
    first.write_bytes(b"a" * 300)
    second.write_bytes(b"b" * 300)
    assert cache.put("aaaa-1", first)
    os.utime(folder / "aaaa-1.mp3", (long_ago, long_ago))
    assert cache.put("bbbb-2", second)
    # 500 being written + 300 + 300 is over 1000: the least recently used copy goes.
    assert sorted(path.name for path in folder.glob("*.mp3")) == ["bbbb-2.mp3"]


def unwritable(tmp_path: Path) -> Path:
    """A cache folder no one can write, whoever runs the test (root too): its path is a regular file."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    return blocked / "audio-cache"


async def test_check_reports_a_cache_folder_encore_cannot_write(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = {**sunoapi_env(discord, suno, tmp_path / "encore.db"), "LOG_LEVEL": "INFO"}
        broken = await BotProcess.spawn({**env, "AUDIO_CACHE_DIR": str(unwritable(tmp_path))}, tmp_path, "check")
        assert await broken.wait(30) == 1
        working = await BotProcess.spawn({**env, "AUDIO_CACHE_DIR": str(tmp_path / "cache")}, tmp_path, "check")
        assert await working.wait(30) == 0, working.output
    [line] = [line for line in broken.lines if "AUDIO_CACHE_DIR" in line]
    assert line.startswith(f"❌ AUDIO_CACHE_DIR={unwritable(tmp_path)}: Encore cannot write there"), line
    assert "results are still posted" in line and "Traceback" not in broken.output
    assert f"✅ AUDIO_CACHE_DIR={tmp_path / 'cache'}: writable" in working.lines


async def test_an_unwritable_cache_at_start_is_reported_and_results_are_still_posted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = {**provider_env(suno), "AUDIO_CACHE_DIR": str(unwritable(tmp_path))}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        with caplog.at_level(logging.WARNING):
            async with running_bot(discord, settings):
                await discord.invoke_command("extend", {"song": ROOT, "at": "30", "lyrics": "la"})
                result = await discord.wait_for_message(CHANNEL_ID, is_result)
    assert result.attachments
    [warning] = [record.getMessage() for record in caplog.records if "AUDIO_CACHE_DIR" in record.getMessage()]
    assert "Encore cannot write there" in warning


async def test_a_cache_that_fails_mid_run_leaves_posts_and_whole_songs_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "cache"
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY, submit_interval=0.05, poll_per_second=50) as suno:
        suno.audio_factory = ToneBank(8.0)
        settings = settings_for(discord, tmp_path / "encore.db", {**provider_env(suno), "AUDIO_CACHE_DIR": str(folder)})
        with caplog.at_level(logging.WARNING):
            async with running_bot(discord, settings):
                assert folder.is_dir()  # checked and made at start
                shutil.rmtree(folder)
                folder.write_text("the disk was remounted; the folder is gone")  # every write now fails
                chain = await make_chain(discord)
                assert all(is_result(result) for result in chain.results)  # audio attached, despite the cache
                await discord.click_button(chain.results[-1].id, f"encore:whole:{chain.clips[-1]}")
                whole = await discord.wait_for_message(CHANNEL_ID, is_whole_song)
    assert whole.attachments
    not_cached = [record for record in caplog.records if "it is not cached" in record.getMessage()]
    assert not_cached and all(record.exc_info is None for record in not_cached)


async def test_check_keeps_the_clips_in_the_cache(tmp_path: Path) -> None:
    """`python -m bot check` writes a probe in the cache folder and tidies it as the bot does: within the bot's own
    size limit, so the clips it keeps stay (a check with a limit of one byte once emptied the cache)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    kept = cache / f"{ROOT}.mp3"
    kept.write_bytes(b"\xff\xfb" + bytes(4096))
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = {**sunoapi_env(discord, suno, tmp_path / "encore.db"), "AUDIO_CACHE_DIR": str(cache)}
        checked = await BotProcess.spawn(env, tmp_path, "check")
        assert await checked.wait(30) == 0, checked.output
    assert f"✅ AUDIO_CACHE_DIR={cache}: writable" in checked.lines
    assert kept.exists()
