"""Delivery owns the result's media: the service fetches and measures each clip, hands the files to the Discord side
to post, records the measured lengths, and removes the files once the task is posted or given up. No Discord: the
Discord side is a recording `TaskEvents`, the store is real SQLite, the audio real MP3s from a local CDN fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.domain.models import Clip, GenerateRequest, Requester, TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.media import MediaFetcher, origin_of
from bot.providers import ApiframeProvider
from bot.service import ClipMedia, DeliveryError, PostedParts, TaskEvents, TaskService
from bot.service.result_media import ResultMedia
from bot.store import Store
from bot.store.sqlite import SqliteStore
from tests.fakes.cdn import FakeSunoCdn
from tests.support.audio import tone_bytes

SECONDS = 2.0
GUILD_LIMIT = 8 * 1024 * 1024


@dataclass
class Posted:
    """What the Discord side was handed for one attempt: the songs as posted, and whether each had its audio."""

    songs: list[SongRecord]
    files: dict[str, Path | None]
    all_there: bool


@dataclass
class RecordingMessages:
    """The Discord side reduced to what it was asked to post; `refuse` makes each attempt fail that way."""

    refuse: DeliveryError | None = None
    posts: list[Posted] = field(default_factory=list)
    limits_asked: list[int | None] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        pass

    async def task_failed(self, task: TaskRecord) -> None:
        raise AssertionError(f"task {task.id} failed: {task.error}")

    def upload_limit(self, guild_id: int | None) -> int:
        self.limits_asked.append(guild_id)
        return GUILD_LIMIT

    async def task_resumed(self, task: TaskRecord) -> None:
        raise AssertionError(f"task {task.id} was never in doubt")

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        files = {song.clip_id: media[song.clip_id].audio for song in songs}
        self.posts.append(Posted(songs, files, all(path is not None and path.exists() for path in files.values())))
        if self.refuse:
            raise self.refuse
        return 9000 + task.id

    async def task_delivered(self, task: TaskRecord) -> None:
        self.ended.set()

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        self.ended.set()


@pytest.fixture
async def cdn() -> AsyncIterator[FakeSunoCdn]:
    async with FakeSunoCdn() as server:
        server.put("first", tone_bytes(440.0, SECONDS))
        server.put("second", tone_bytes(660.0, SECONDS))
        yield server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await SqliteStore.open(tmp_path / "encore.db")
    yield opened
    await opened.close()


async def succeeded_task(store: Store, cdn: FakeSunoCdn) -> int:
    task = await store.create_task(Requester(11, 21, 31), "apiframe", GenerateRequest(prompt="p"), dedupe_seconds=0)
    assert task is not None
    assert await store.mark_submitted(task.id, "provider-1", next_poll_at=0)
    submitted = await store.get_task(task.id)
    assert submitted is not None
    clips = [Clip(clip, f"{cdn.base_url}/{clip}.mp3", None, title="Tide") for clip in ("first", "second")]
    assert await store.mark_succeeded(submitted, clips)
    return task.id


async def deliver(store: Store, cdn: FakeSunoCdn, session: aiohttp.ClientSession, messages: RecordingMessages) -> int:
    task_id = await succeeded_task(store, cdn)
    async with MediaFetcher({origin_of(cdn.base_url)}) as fetcher:
        events: TaskEvents = messages
        provider = ApiframeProvider(session, "http://127.0.0.1:9", "unused-key")  # never called: no loop runs
        service = TaskService(store, provider, events, poll_interval=0.01, stall_timeout=60, media=ResultMedia(fetcher))
        service.deliverer.start(task_id)
        await asyncio.wait_for(messages.ended.wait(), timeout=30)
        await asyncio.gather(*service.deliverer.running.values())
    return task_id


async def test_the_service_posts_its_prepared_files_records_the_measured_lengths_then_removes_them(
    store: Store, cdn: FakeSunoCdn, http_session: aiohttp.ClientSession
) -> None:
    messages = RecordingMessages()
    task_id = await deliver(store, cdn, http_session, messages)
    assert set(messages.limits_asked) == {31}  # the task had no interaction limit: its server's was asked
    [posted] = messages.posts
    assert posted.all_there
    assert all(song.duration is not None and abs(song.duration - SECONDS) < 0.2 for song in posted.songs)
    task = await store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.DELIVERED and task.result_message_id == 9000 + task_id
    for song in await store.songs_of_task(task_id):
        assert song.duration is not None and abs(song.duration - SECONDS) < 0.2
    assert all(path is not None and not path.exists() for path in posted.files.values())
    assert sorted(cdn.requests) == ["/first.mp3", "/second.mp3"]


async def test_retries_reuse_the_downloads_and_giving_up_removes_them(
    store: Store, cdn: FakeSunoCdn, http_session: aiohttp.ClientSession
) -> None:
    messages = RecordingMessages(refuse=DeliveryError("Discord answered 503", permanent=False))
    task_id = await deliver(store, cdn, http_session, messages)
    assert len(messages.posts) > 1 and all(post.all_there for post in messages.posts)
    assert sorted(cdn.requests) == ["/first.mp3", "/second.mp3"]  # each clip fetched once across every retry
    task = await store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.UNDELIVERABLE
    assert all(path is not None and not path.exists() for path in messages.posts[-1].files.values())
