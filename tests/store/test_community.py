"""Store queries behind the showcase, /top and /encore usage: stars per member, a race-free claim, rankings, usage."""

from __future__ import annotations

import asyncio
import time

from bot.domain.models import Clip, GenerateRequest, Requester
from bot.domain.records import UsageCounts
from bot.store import Store

ALICE = Requester(user_id=11, channel_id=21, guild_id=31)
BOB = Requester(user_id=12, channel_id=21, guild_id=31)


async def posted_result(store: Store, requester: Requester, prompt: str, message_id: int) -> int:
    task = await store.create_task(requester, "apiframe", GenerateRequest(prompt=prompt), dedupe_seconds=0)
    assert task is not None
    await store.begin_submit(task.id)
    await store.mark_submitted(task.id, f"provider-{task.id}", next_poll_at=0)
    await store.mark_succeeded(task, [Clip(f"clip-{task.id}", "https://cdn/a.mp3", None)])
    await store.mark_delivered(task.id, message_id, {})
    return task.id


async def test_a_member_stars_once_and_can_take_it_back(store: Store) -> None:
    task_id = await posted_result(store, ALICE, "a", 1001)
    assert await store.add_star(task_id, 12) == 1
    assert await store.add_star(task_id, 12) == 1
    assert await store.add_star(task_id, 13) == 2
    assert await store.remove_star(task_id, 12) == 1
    assert await store.remove_star(task_id, 99) == 1


async def test_only_one_of_many_concurrent_claims_wins_until_it_is_released(store: Store) -> None:
    task_id = await posted_result(store, ALICE, "a", 1001)
    claims = await asyncio.gather(*(store.claim_showcase(task_id) for _ in range(8)))
    assert claims.count(True) == 1
    await store.release_showcase(task_id)
    assert await store.claim_showcase(task_id)
    await store.record_showcase(task_id, 5005)
    task = await store.get_task(task_id)
    assert task is not None and task.showcased_at is not None and task.showcase_message_id == 5005


async def test_top_starred_ranks_by_stars_within_the_server_and_period(store: Store) -> None:
    first = await posted_result(store, ALICE, "first", 1001)
    second = await posted_result(store, BOB, "second", 1002)
    unstarred = await posted_result(store, BOB, "unstarred", 1003)
    elsewhere = await posted_result(store, Requester(user_id=11, channel_id=1, guild_id=99), "other", 1004)
    for user in (20, 21):
        await store.add_star(second, user)
    await store.add_star(first, 20)
    await store.add_star(elsewhere, 20)
    ranked = await store.top_starred(31, None, limit=10)
    assert [(task.id, stars) for task, stars in ranked] == [(second, 2), (first, 1)]
    assert unstarred not in [task.id for task, _ in ranked]
    assert await store.top_starred(31, time.time() + 60, limit=10) == []
    assert [task.id for task, _ in await store.top_starred(31, None, limit=1)] == [second]


async def test_usage_counts_tasks_submissions_and_failures_per_member_and_day(store: Store) -> None:
    await posted_result(store, ALICE, "made", 1001)
    failed = await store.create_task(ALICE, "apiframe", GenerateRequest(prompt="failed"), dedupe_seconds=0)
    assert failed is not None
    await store.mark_failed(failed.id, "Suno said no")
    await store.create_task(BOB, "apiframe", GenerateRequest(prompt="queued"), dedupe_seconds=0)
    await store.create_task(Requester(user_id=11, channel_id=1, guild_id=99), "apiframe", GenerateRequest(prompt="x"))
    usage = await store.usage(31, since=time.time() - 3600)
    assert usage.by_member == {11: UsageCounts(2, 1, 1), 12: UsageCounts(1, 0, 0)}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert usage.by_day == {today: UsageCounts(3, 1, 1)}
    assert (await store.usage(31, since=time.time() + 60)).by_member == {}
