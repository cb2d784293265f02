"""The whole-song claim: exactly one winner at once, a posted song stays posted, a failed or stale claim is retaken."""

from __future__ import annotations

import asyncio
import json

from bot.domain.models import Clip, ExtendRequest, Requester, TaskStatus
from bot.domain.records import TaskRecord, WholeSongState
from bot.store import Store

CLIP = "aaaaaaaa-1111-4222-8333-444455556666"
ALICE = Requester(user_id=11, channel_id=21, guild_id=31)


async def claim(store: Store, *, user: int = 11, stale_after: float = 300.0, now: float | None = None) -> bool:
    return await store.claim_whole_song(
        CLIP, guild_id=31, channel_id=21, requested_by=user, stale_after=stale_after, now=now
    )


async def test_of_many_presses_at_once_exactly_one_claims(store: Store) -> None:
    results = await asyncio.gather(*(claim(store, user=user) for user in range(8)))
    assert results.count(True) == 1
    record = await store.get_whole_song(CLIP)
    assert record is not None and record.state is WholeSongState.BUILDING and record.message_id is None


async def test_a_posted_whole_song_is_never_claimed_again(store: Store) -> None:
    assert await claim(store)
    assert await store.record_whole_song(CLIP, channel_id=21, message_id=900, timeline_json='{"duration": 1}')
    assert not await claim(store, stale_after=0.0)
    record = await store.get_whole_song(CLIP)
    assert record is not None and record.state is WholeSongState.POSTED
    assert (record.message_id, record.channel_id, record.posted_at is not None) == (900, 21, True)
    assert not await store.record_whole_song(CLIP, channel_id=21, message_id=901, timeline_json="{}")


async def test_a_failed_build_releases_the_claim_with_its_reason(store: Store) -> None:
    assert await claim(store)
    await store.release_whole_song(CLIP, "part 2 could not be fetched")
    record = await store.get_whole_song(CLIP)
    assert record is not None and record.state is WholeSongState.FAILED
    assert record.error == "part 2 could not be fetched"
    assert await claim(store, user=12)
    again = await store.get_whole_song(CLIP)
    assert again is not None and again.state is WholeSongState.BUILDING and again.error is None
    assert again.requested_by == 12


async def test_a_stale_claim_is_retaken_once_and_its_old_builder_cannot_post(store: Store) -> None:
    # Time goes through the claims' `now`, not the wall clock: the claim is stale only once 300 s have passed,
    # and the retakes, however far apart they really run, all happen at one moment after that.
    claimed_at = 1_000_000.0
    assert await claim(store, now=claimed_at)
    assert not await claim(store, stale_after=300.0, now=claimed_at + 300.0)
    retakes = await asyncio.gather(*(claim(store, stale_after=300.0, now=claimed_at + 301.0) for _ in range(4)))
    assert retakes.count(True) == 1
    retaken = await store.get_whole_song(CLIP)
    assert retaken is not None and retaken.state is WholeSongState.BUILDING and retaken.claimed_at == claimed_at + 301.0
    assert await store.record_whole_song(CLIP, channel_id=21, message_id=900, timeline_json="{}")
    await store.release_whole_song(CLIP, "the old builder's late failure")
    record = await store.get_whole_song(CLIP)
    assert record is not None and record.state is WholeSongState.POSTED and record.error is None


async def test_preview_audio_is_kept_on_the_task_and_moves_it(store: Store) -> None:
    task = await store.create_task(ALICE, "sunoapi", ExtendRequest(clip_id=CLIP, continue_at=30.0, prompt="x"))
    assert task is not None
    await store.begin_submit(task.id)
    await store.mark_submitted(task.id, "provider-1", next_poll_at=0)
    submitted = await store.get_task(task.id)
    assert submitted is not None and submitted.previews == {}

    async def streamed(task: TaskRecord, previews: dict[str, str] | None) -> bool:
        status = TaskStatus.RUNNING
        return await store.record_poll(
            task, status=status, provider_status="streaming", progress=None, next_poll_at=0, previews=previews
        )

    previews = {"c1": "https://audiopipe.suno.ai/?item_id=c1"}
    assert await streamed(submitted, previews)
    streaming = await store.get_task(task.id)
    assert streaming is not None and streaming.previews == previews
    assert not await streamed(streaming, previews)
    assert not await streamed(streaming, None)
    both = {**previews, "c2": "https://audiopipe.suno.ai/?item_id=c2"}
    assert await streamed(streaming, both)
    await store.mark_succeeded(streaming, [Clip("c1", "https://cdn/c1.mp3", None)])
    done = await store.get_task(task.id)
    assert done is not None and json.loads(done.previews_json or "{}") == both
