"""The whole song's flow is the service's: it reads from the store which clip of a result a part is, asks the
Discord side only for that attachment's fresh URL, builds the song and hands it over to post. Real SQLite, real
MP3s from a local CDN fake, the real stitcher; the Discord side is a recording `WholeSongEvents`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.domain.models import ExtendRequest, GenerateRequest, Requester
from bot.domain.records import TaskRecord
from bot.media import MediaFetcher, origin_of
from bot.service.ports import WholeSongEvents, WholeSongPost
from bot.service.wholesong import WholeSongFailed, WholeSongPosted, WholeSongs
from bot.store import Store
from bot.store.sqlite import SqliteStore
from tests.fakes.cdn import FakeSunoCdn
from tests.support.audio import tone_bytes
from tests.support.songs import make_songs

ALICE = Requester(user_id=11, channel_id=21, guild_id=31)
ROOT_A = "aaaaaaaa-0000-4000-8000-000000000001"
ROOT_B = "aaaaaaaa-0000-4000-8000-000000000002"
EXTENSION = "aaaaaaaa-0000-4000-8000-000000000003"
POSTED_COPY = "posted-copy-of-root-b"


@dataclass
class RecordingWholeSongs:
    """Hands out the URL of the posted copy for the clip at `posted_position` of a result; records every call."""

    cdn_base_url: str
    posted_position: int
    asked: list[tuple[int, int]] = field(default_factory=list)
    posts: list[WholeSongPost] = field(default_factory=list)

    async def result_audio_url(self, task: TaskRecord, position: int) -> str | None:
        self.asked.append((task.id, position))
        return f"{self.cdn_base_url}/{POSTED_COPY}.mp3" if position == self.posted_position else None

    async def maker_names(self, guild_id: int | None, user_ids: list[int]) -> list[str]:
        return [f"member {user_id}" for user_id in user_ids]

    def upload_limit(self, guild_id: int | None) -> int:
        return 25 * 1024 * 1024

    async def post_whole_song(self, post: WholeSongPost) -> int:
        self.posts.append(post)
        return 4242

    async def whole_song_failed(self, channel_id: int, guild_id: int | None, reply_to: int | None, reason: str) -> None:
        raise AssertionError(f"nobody pressed for an automatic whole song here: {reason}")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await SqliteStore.open(tmp_path / "encore.db")
    yield opened
    await opened.close()


async def press(store: Store, cdn: FakeSunoCdn, events: RecordingWholeSongs) -> WholeSongPosted | WholeSongFailed:
    seen: WholeSongEvents = events
    async with MediaFetcher({origin_of(cdn.base_url)}) as fetcher:
        whole_songs = WholeSongs(store, seen, fetcher, cdn_base_url=cdn.base_url)
        outcome = await whole_songs.request(
            EXTENSION, user_id=11, guild_id=31, channel_id=21, reply_to=None, upload_limit=None
        )
    assert isinstance(outcome, WholeSongPosted | WholeSongFailed), outcome
    return outcome


async def chain(store: Store, cdn: FakeSunoCdn) -> int:
    """root (two clips, posted as message 700) → its second clip extended at 1.0 s; the id of the root's task."""
    root_task = await make_songs(store, ALICE, GenerateRequest(prompt="p"), ROOT_A, ROOT_B)
    assert await store.mark_delivered(root_task, 700, {})
    await make_songs(store, ALICE, ExtendRequest(clip_id=ROOT_B, continue_at=1.0), EXTENSION)
    # The provider's links (https://cdn/…) are unreachable, Suno's CDN has only the extension: the root's part
    # can come only from Encore's own result message.
    cdn.put(EXTENSION, tone_bytes(660.0, 2.0))
    cdn.put(POSTED_COPY, tone_bytes(440.0, 2.0))
    return root_task


async def test_a_part_is_fetched_from_its_own_place_on_the_posted_result(store: Store) -> None:
    async with FakeSunoCdn() as cdn:
        root_task = await chain(store, cdn)
        events = RecordingWholeSongs(cdn.base_url, posted_position=2)
        outcome = await press(store, cdn, events)
    assert isinstance(outcome, WholeSongPosted) and outcome.new and outcome.record.message_id == 4242
    assert events.asked == [(root_task, 2)]  # the root's second clip, not its first
    [post] = events.posts
    assert [part.clip_id for part in post.parts] == [ROOT_B, EXTENSION]
    assert abs(post.timeline.duration - 3.0) < 0.2  # 1 s of the root's clip, then the 2 s extension
    assert f"/{POSTED_COPY}.mp3" in cdn.requests


async def test_when_the_posted_result_no_longer_has_the_part_nothing_is_posted_and_the_member_is_told(
    store: Store,
) -> None:
    async with FakeSunoCdn() as cdn:
        await chain(store, cdn)
        events = RecordingWholeSongs(cdn.base_url, posted_position=1)  # the message shows another clip there
        outcome = await press(store, cdn, events)
    assert isinstance(outcome, WholeSongFailed) and "part 1" in outcome.reason
    assert events.posts == []
    record = await store.get_whole_song(EXTENSION)
    assert record is not None and record.message_id is None  # the claim was given back for a later press
