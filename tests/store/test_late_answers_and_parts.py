"""A submission is sent only under a live lease; a late answer resumes a task failed only as in doubt; the posted
parts of a result are recorded one by one, so a retried delivery can skip them."""

from __future__ import annotations

import time

from bot.domain.models import GenerateRequest, Requester, TaskStatus
from bot.domain.records import TaskRecord
from bot.store import Store

ALICE = Requester(user_id=11, channel_id=21, guild_id=31)
LEASE = 30.0
EXPIRED = 0.0  # a lease that has run out by the time it is checked, as a paused process's has


async def queued(store: Store, prompt: str = "x") -> TaskRecord:
    task = await store.create_task(ALICE, "sunoapi", GenerateRequest(prompt=prompt), dedupe_seconds=0)
    assert task is not None
    return task


async def failed_in_doubt(store: Store) -> TaskRecord:
    task = await queued(store)
    assert await store.begin_submit(task.id)
    assert await store.mark_failed(task.id, "Encore stopped while submitting", in_doubt=True)
    return task


async def test_begin_submit_needs_the_claimers_live_lease(claimers: tuple[Store, Store]) -> None:
    first, second = claimers
    task = await queued(first)
    claimed = await first.claim_next_queued("sunoapi", "a", time.time(), EXPIRED)
    assert claimed is not None and claimed.id == task.id
    assert not await first.begin_submit(task.id, "a")  # a paused past its lease: it must not send
    retaken = await second.claim_next_queued("sunoapi", "b", time.time(), LEASE)
    assert retaken is not None and retaken.id == task.id and retaken.submit_started_at is None
    assert not await first.begin_submit(task.id, "a")
    assert await second.begin_submit(task.id, "b")
    assert not await second.begin_submit(task.id, "b")  # exactly once


async def test_a_late_answer_resumes_a_task_failed_in_doubt_once(store: Store) -> None:
    task = await failed_in_doubt(store)
    assert not await store.mark_submitted(task.id, "late", next_poll_at=0)
    assert await store.resume_in_doubt(task.id, "late", next_poll_at=5.0, by_webhook=True)
    resumed = await store.get_task(task.id)
    assert resumed is not None and resumed.status is TaskStatus.SUBMITTED
    assert (resumed.provider_task_id, resumed.next_attempt_at, resumed.reports_by_webhook) == ("late", 5.0, True)
    assert resumed.error is None and resumed.finished_at is None
    assert [t.id for t in await store.active_tasks_by_provider_id("sunoapi", ["late"])] == [task.id]
    assert not await store.resume_in_doubt(task.id, "again", next_poll_at=0)
    assert await store.mark_failed(task.id, "the provider failed it")  # it goes on like any submitted task
    assert not await store.resume_in_doubt(task.id, "late", next_poll_at=0)


async def test_only_a_failure_in_doubt_is_resumed(store: Store) -> None:
    refused = await queued(store, "refused")
    assert await store.begin_submit(refused.id)
    assert await store.mark_failed(refused.id, "The provider refused this request")
    cancelled = await queued(store, "cancelled")
    assert await store.cancel_task(cancelled.id)
    waiting = await queued(store, "waiting")
    for task in (refused, cancelled, waiting):
        assert not await store.resume_in_doubt(task.id, "late", next_poll_at=0)
    statuses = [found.status for task in (refused, cancelled, waiting) if (found := await store.get_task(task.id))]
    assert statuses == [TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.QUEUED]


async def test_posted_parts_are_recorded_per_task_and_part(store: Store) -> None:
    first, second = await queued(store, "one"), await queued(store, "two")
    assert await store.result_parts(first.id) == {}
    await store.record_result_part(first.id, 0, 9001)
    await store.record_result_part(first.id, 1, 9002)
    await store.record_result_part(second.id, 0, 9101)
    await store.record_result_part(first.id, 1, 9002)  # recorded again after a retry: no error, no second row
    assert await store.result_parts(first.id) == {0: 9001, 1: 9002}
    assert await store.result_parts(second.id) == {0: 9101}
