"""Result media in the service: real MP3s fetched from a local CDN fake through the real `MediaFetcher`, measured,
cached and kept across retries; a member's own track measured or refused in words for them. No Discord."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.models import GenerateRequest, Requester
from bot.domain.records import SongRecord, TaskRecord
from bot.media import MediaFetcher, origin_of
from bot.media.cache import AudioCache
from bot.service.result_media import ResultMedia, TrackUnusable
from bot.store.sqlite import SqliteStore
from tests.fakes.cdn import FakeSunoCdn
from tests.support.audio import tone_bytes

SECONDS = 3.0
NOT_AUDIO = b"<html><body>Not found, but with a 200</body></html>" * 40
# An ID3 tag (so it passes the download's sniffing) in front of bytes no decoder can play.
UNDECODABLE = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 64


def song(clip_id: str, audio_url: str | None) -> SongRecord:
    return SongRecord(
        clip_id=clip_id,
        provider="apiframe",
        provider_task_id="provider-1",
        task_id=1,
        owner_id=11,
        guild_id=31,
        title="Tide",
        duration=None,
        audio_url=audio_url,
        image_url=None,
        parent_clip_id=None,
        continue_at=None,
        created_at=time.time(),
    )


@pytest.fixture
async def cdn() -> AsyncIterator[FakeSunoCdn]:
    async with FakeSunoCdn() as server:
        server.put("tone", tone_bytes(440.0, SECONDS))
        server.put("html", NOT_AUDIO)
        server.put("undecodable", UNDECODABLE)
        yield server


@pytest.fixture
async def fetcher(cdn: FakeSunoCdn) -> AsyncIterator[MediaFetcher]:
    async with MediaFetcher({origin_of(cdn.base_url)}) as opened:
        yield opened


@pytest.fixture
async def task(tmp_path: Path) -> AsyncIterator[TaskRecord]:
    store = await SqliteStore.open(tmp_path / "encore.db")
    created = await store.create_task(Requester(11, 21, 31), "apiframe", GenerateRequest(prompt="p"))
    assert created is not None
    yield created
    await store.close()


async def test_each_clip_is_fetched_measured_and_cached_once_and_its_files_go_when_forgotten(
    cdn: FakeSunoCdn, fetcher: MediaFetcher, task: TaskRecord, tmp_path: Path
) -> None:
    cache = AudioCache(tmp_path / "cache", 64 * 1024 * 1024)
    media = ResultMedia(fetcher, audio_cache=cache)
    songs = [
        song("tone", f"{cdn.base_url}/tone.mp3"),
        song("html", f"{cdn.base_url}/html.mp3"),
        song("undecodable", f"{cdn.base_url}/undecodable.mp3"),
        song("gone", f"{cdn.base_url}/gone.mp3"),
        song("none", None),
    ]
    prepared = await media.prepare(task, songs, 8 * 1024 * 1024)
    tone = prepared["tone"]
    assert tone.audio is not None and tone.audio.exists() and tone.audio_problem is None
    assert tone.duration is not None and abs(tone.duration - SECONDS) < 0.2
    assert prepared["undecodable"].audio_problem == "the file is not audio that can be played"
    for unusable in ("html", "undecodable", "gone"):
        assert prepared[unusable].audio is None and prepared[unusable].audio_problem
        assert not prepared[unusable].audio_too_large
    assert prepared["none"].audio_problem == "the provider gave no audio"
    copy = tmp_path / "copy.mp3"
    assert cache.copy_out("tone", copy) and copy.read_bytes() == tone.audio.read_bytes()
    assert not cache.copy_out("html", tmp_path / "html.mp3")

    asked = len(cdn.requests)
    again = await media.prepare(task, songs, 8 * 1024 * 1024)
    assert again["tone"] == tone and len(cdn.requests) == asked  # a retry downloads nothing again

    media.forget(task.id)
    assert not tone.audio.exists() and not tone.audio.parent.exists()


async def test_audio_over_the_upload_limit_is_marked_too_large_so_a_link_is_posted(
    cdn: FakeSunoCdn, fetcher: MediaFetcher, task: TaskRecord
) -> None:
    media = ResultMedia(fetcher)
    prepared = await media.prepare(task, [song("tone", f"{cdn.base_url}/tone.mp3")], 1024)
    assert prepared["tone"].audio is None and prepared["tone"].audio_too_large
    media.close()


async def test_a_members_track_is_measured_or_refused_in_words_for_them(
    cdn: FakeSunoCdn, fetcher: MediaFetcher
) -> None:
    media = ResultMedia(fetcher)
    duration = await media.measure_track(f"{cdn.base_url}/tone.mp3", "my-track.mp3", 10 * 1024 * 1024)
    assert abs(duration - SECONDS) < 0.2
    with pytest.raises(TrackUnusable, match=r"^Encore could not use your file \(no audio decoder can read it\)"):
        await media.measure_track(f"{cdn.base_url}/undecodable.mp3", "noise.mp3", 10 * 1024 * 1024)
    with pytest.raises(TrackUnusable, match=r"does not look like audio"):
        await media.measure_track(f"{cdn.base_url}/html.mp3", "page.mp3", 10 * 1024 * 1024)
    with pytest.raises(TrackUnusable, match=r"Export it as mp3 or wav and attach it again\.$"):
        await media.measure_track(f"{cdn.base_url}/gone.mp3", "gone.mp3", 10 * 1024 * 1024)
