"""The whole song's claim: the first press builds and posts it, later presses point at it, one being built is
not built twice, a failure gives the claim back for a later press, and a claim whose builder died is retaken.

Real store, real build (two short tone MP3s from Encore's audio cache, joined by the real stitcher), and the
Discord side as `RecordingWholeSongEvents`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.models import Clip, ExtendRequest, GenerateRequest, TaskRequest
from bot.domain.records import SongRecord, WholeSongState
from bot.media import MediaFetcher
from bot.media.cache import AudioCache
from bot.service import DeliveryError, wholesong
from bot.service.wholesong import WholeSongBuilding, WholeSongFailed, WholeSongOutcome, WholeSongPosted, WholeSongs
from bot.store.sqlite import SqliteStore
from tests.fakes.events import RecordingWholeSongEvents
from tests.service.conftest import CHANNEL, GUILD, MEMBER, OTHER_MEMBER, requester
from tests.support.audio import make_tone_mp3

ROOT = "dddddddd-0000-4000-8000-000000000000"  # a member's suno.com song: Encore never posted it
EXTENSION = "dddddddd-0000-4000-8000-000000000001"
LONE = "dddddddd-0000-4000-8000-000000000002"  # a new song, not an extension
CUT = 0.5
PART_SECONDS = 1.0
RESULT_MESSAGE = 900


@dataclass
class Rig:
    store: SqliteStore
    events: RecordingWholeSongEvents
    cache: AudioCache
    whole_songs: WholeSongs
    tones: dict[str, Path]

    async def press(
        self, clip_id: str = EXTENSION, user_id: int = MEMBER, guild_id: int | None = GUILD
    ) -> WholeSongOutcome:
        return await self.whole_songs.request(
            clip_id,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=CHANNEL,
            reply_to=RESULT_MESSAGE,
            upload_limit=None,
        )

    def cache_tone(self, clip_id: str) -> None:
        """Encore's own copy of the clip, as if it had posted it."""
        self.cache.put(clip_id, self.tones[clip_id])


async def made_song(store: SqliteStore, clip_id: str, parent: str | None, continue_at: float | None) -> SongRecord:
    """A song Encore made: an extend of `parent` at `continue_at` (None: a new song), finished by the provider."""
    request: TaskRequest = (
        ExtendRequest(clip_id=parent, continue_at=continue_at or 0.0, prompt=f"made {clip_id[-1]}")
        if parent
        else GenerateRequest(prompt=f"made {clip_id[-1]}")
    )
    task = await store.create_task(requester(MEMBER), "sunoapi", request)
    assert task is not None
    assert await store.mark_submitted(task.id, f"suno-{clip_id}", next_poll_at=time.time())
    found = await store.get_task(task.id)
    assert found is not None
    assert await store.mark_succeeded(found, [Clip(clip_id, None, None, title="Tone", duration=PART_SECONDS)])
    song = await store.get_song(clip_id)
    assert song is not None
    return song


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One short real MP3 per part, made once: the stitcher decodes and joins them, which is what is tested."""
    folder = tmp_path_factory.mktemp("tones")
    return {
        clip_id: make_tone_mp3(folder / f"{clip_id}.mp3", freq_hz=freq, seconds=PART_SECONDS)
        for clip_id, freq in ((ROOT, 440.0), (EXTENSION, 660.0))
    }


@pytest.fixture
async def rig(store: SqliteStore, tmp_path: Path, tones: dict[str, Path]) -> AsyncIterator[Rig]:
    await made_song(store, EXTENSION, ROOT, CUT)
    await made_song(store, LONE, None, None)
    events = RecordingWholeSongEvents()
    cache = AudioCache(tmp_path / "cache", 64 * 1024 * 1024)
    # Suno's CDN at a local address MediaFetcher refuses: only the cache can give a part.
    async with MediaFetcher() as fetcher:
        whole_songs = WholeSongs(store, events, fetcher, cdn_base_url="http://127.0.0.1:9", cache=cache)
        yield Rig(store, events, cache, whole_songs, tones)
        await whole_songs.stop(grace=5)


async def test_the_first_press_builds_and_posts_it_and_the_next_points_at_that_post(rig: Rig) -> None:
    rig.cache_tone(ROOT)
    rig.cache_tone(EXTENSION)
    first = await rig.press()
    assert isinstance(first, WholeSongPosted) and first.new
    (posted,) = rig.events.posted
    assert [part.clip_id for part in posted.post.parts] == [ROOT, EXTENSION]
    assert posted.post.reply_to == RESULT_MESSAGE and posted.audio_bytes > 0
    assert posted.post.timeline.duration == pytest.approx(CUT + PART_SECONDS, abs=0.1)
    assert (first.record.state, first.record.message_id) == (WholeSongState.POSTED, rig.events.next_message_id)

    again = await rig.press(user_id=OTHER_MEMBER)
    assert isinstance(again, WholeSongPosted) and not again.new
    assert again.record.message_id == first.record.message_id
    assert len(rig.events.posted) == 1


async def test_two_presses_at_once_build_it_once(rig: Rig) -> None:
    rig.cache_tone(ROOT)
    rig.cache_tone(EXTENSION)
    outcomes = await asyncio.gather(rig.press(), rig.press(user_id=OTHER_MEMBER))
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["WholeSongBuilding", "WholeSongPosted"]
    assert len(rig.events.posted) == 1


async def test_a_claim_being_built_elsewhere_is_left_to_its_builder(rig: Rig) -> None:
    assert await rig.store.claim_whole_song(
        EXTENSION, guild_id=GUILD, channel_id=CHANNEL, requested_by=OTHER_MEMBER, stale_after=60
    )
    outcome = await rig.press()
    assert isinstance(outcome, WholeSongBuilding) and outcome.record.requested_by == OTHER_MEMBER
    assert rig.events.posted == []


async def test_a_stale_claim_is_retaken(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await rig.store.claim_whole_song(
        EXTENSION, guild_id=GUILD, channel_id=CHANNEL, requested_by=OTHER_MEMBER, stale_after=60
    )  # and its builder died
    monkeypatch.setattr(wholesong, "CLAIM_STALE_SECONDS", 0.0)  # as if that claim were older than a build can take
    rig.cache_tone(ROOT)
    rig.cache_tone(EXTENSION)
    outcome = await rig.press()
    assert isinstance(outcome, WholeSongPosted) and outcome.new and outcome.record.requested_by == MEMBER
    assert len(rig.events.posted) == 1


async def test_a_failed_build_gives_the_claim_back_with_its_reason_and_a_later_press_makes_it(rig: Rig) -> None:
    rig.cache_tone(EXTENSION)  # the original is nowhere to be had
    failed = await rig.press()
    assert isinstance(failed, WholeSongFailed)
    assert failed.reason.startswith("Encore could not get the audio of part 1 (dddddddd)")
    record = await rig.store.get_whole_song(EXTENSION)
    assert record is not None and (record.state, record.error) == (WholeSongState.FAILED, failed.reason)
    assert rig.events.posted == []

    rig.cache_tone(ROOT)
    made = await rig.press()
    assert isinstance(made, WholeSongPosted) and made.new


async def test_a_refused_post_gives_the_claim_back(rig: Rig) -> None:
    rig.cache_tone(ROOT)
    rig.cache_tone(EXTENSION)
    rig.events.refusals.append(
        DeliveryError("the channel is gone or closed to Encore (Missing Access)", permanent=True)
    )
    failed = await rig.press()
    assert isinstance(failed, WholeSongFailed) and "Missing Access" in failed.reason
    record = await rig.store.get_whole_song(EXTENSION)
    assert record is not None and record.state is WholeSongState.FAILED
    assert isinstance(await rig.press(), WholeSongPosted)


async def test_songs_that_have_no_whole_song_here_are_refused_without_a_claim(rig: Rig) -> None:
    other_server = await rig.press(guild_id=GUILD + 1)
    assert other_server == WholeSongFailed("Encore has not made that song on this server.")
    lone = await rig.press(LONE)
    assert isinstance(lone, WholeSongFailed) and "already is the whole song" in lone.reason
    assert await rig.store.get_whole_song(EXTENSION) is None
    assert rig.events.posted == []
