"""Every lifecycle transition is conditional on the status it expects: no interleaving (a webhook and a poll, a
cancel and a submission, two processes) can overwrite one outcome with another."""

from __future__ import annotations

import time

from bot.domain.models import Clip, ExtendRequest, Requester, TaskStatus
from bot.domain.records import TaskRecord
from bot.store import Store

ALICE = Requester(user_id=11, channel_id=21, guild_id=31)


async def queued(store: Store, prompt: str = "x") -> TaskRecord:
    task = await store.create_task(ALICE, "apiframe", ExtendRequest(clip_id="c", continue_at=5.0, prompt=prompt))
    assert task is not None
    return task


async def status(store: Store, task_id: int) -> TaskStatus:
    task = await store.get_task(task_id)
    assert task is not None
    return task.status


async def test_a_failed_task_is_never_marked_submitted_or_succeeded(store: Store) -> None:
    task = await queued(store)
    assert await store.begin_submit(task.id)
    assert await store.mark_failed(task.id, "Encore stopped while submitting")
    assert not await store.mark_submitted(task.id, "late-answer", next_poll_at=0)
    assert not await store.mark_succeeded(task, [Clip("clip", "https://cdn/a.mp3", None)])
    assert await status(store, task.id) is TaskStatus.FAILED
    assert await store.songs_of_task(task.id) == []


async def test_a_submitted_task_is_claimed_once_and_a_second_failure_is_a_no_op(store: Store) -> None:
    task = await queued(store)
    assert await store.begin_submit(task.id)
    assert not await store.begin_submit(task.id)  # a second claimer loses
    assert await store.mark_submitted(task.id, "p1", next_poll_at=0)
    fresh = await store.get_task(task.id)
    assert fresh is not None
    assert await store.mark_succeeded(fresh, [Clip("clip", "https://cdn/a.mp3", None)])
    assert not await store.mark_failed(task.id, "a late stall timeout")
    assert await status(store, task.id) is TaskStatus.SUCCEEDED


async def test_a_poll_answer_cannot_revive_a_finished_task(store: Store) -> None:
    task = await queued(store)
    assert await store.mark_submitted(task.id, "p1", next_poll_at=0)
    submitted = await store.get_task(task.id)
    assert submitted is not None
    assert await store.mark_failed(task.id, "the provider failed it")
    moved = await store.record_poll(
        submitted, status=TaskStatus.RUNNING, provider_status="processing", progress=50, next_poll_at=0
    )
    assert not moved and await status(store, task.id) is TaskStatus.FAILED


async def test_a_result_is_delivered_or_undeliverable_once(store: Store) -> None:
    task = await queued(store)
    assert await store.mark_submitted(task.id, "p1", next_poll_at=0)
    submitted = await store.get_task(task.id)
    assert submitted is not None and await store.mark_succeeded(submitted, [Clip("clip", None, None)])
    assert await store.mark_delivered(task.id, 123, {})
    assert not await store.mark_undeliverable(task.id, "too late")
    assert not await store.mark_delivered(task.id, 456, {})
    delivered = await store.get_task(task.id)
    assert delivered is not None and delivered.result_message_id == 123


async def test_a_cancel_and_a_submission_claim_never_both_win(store: Store) -> None:
    first, second = await queued(store, "a"), await queued(store, "b")
    assert await store.begin_submit(first.id) and not await store.cancel_task(first.id)
    assert await store.cancel_task(second.id) and not await store.begin_submit(second.id)


async def test_a_task_backing_off_does_not_hold_up_the_queue_behind_it(store: Store) -> None:
    first, second = await queued(store, "a"), await queued(store, "b")
    assert await store.defer_submit(first.id, retry_at=2_000.0, note="retrying: provider error 502")
    ahead = await store.claim_next_queued("apiframe", "me", 1_000.0, 30.0)
    assert ahead is not None and ahead.id == second.id
    assert await store.begin_submit(second.id)
    assert await store.mark_submitted(second.id, "p2", next_poll_at=0)
    assert await store.claim_next_queued("apiframe", "me", 1_000.0, 30.0) is None
    assert await store.next_queued_due_at("apiframe") == 2_000.0  # when to look again
    due = await store.claim_next_queued("apiframe", "me", 2_000.0, 30.0)
    assert due is not None and due.id == first.id


async def test_only_a_leased_unbound_queued_task_moves_to_another_provider(store: Store) -> None:
    request = ExtendRequest(clip_id="c", continue_at=5.0, prompt="p")
    bound = await store.create_task(ALICE, "apiframe", request)
    free = await store.create_task(ALICE, "apiframe", ExtendRequest(clip_id="d", continue_at=5.0), bound=False)
    assert bound is not None and free is not None and bound.bound and not free.bound
    carried = ExtendRequest(clip_id="d", continue_at=5.0, model="V5")
    assert not await store.move_to_provider(free.id, "me", "sunoapi_org", carried)  # not leased by "me"
    assert await store.claim_next_queued("apiframe", "me", time.time(), 30) == bound
    assert not await store.move_to_provider(bound.id, "me", "sunoapi_org", request)  # bound: never moves
    claimed = await store.claim_next_queued("apiframe", "me", time.time(), 30)
    assert claimed is not None and claimed.id == free.id
    assert await store.begin_submit(free.id, "me")
    assert await store.move_to_provider(free.id, "me", "sunoapi_org", carried)  # the caller knows nothing was sent
    moved = await store.get_task(free.id)
    assert moved is not None
    assert (moved.provider, moved.status, moved.submit_started_at, moved.request) == (
        "sunoapi_org",
        TaskStatus.QUEUED,
        None,
        carried,
    )
    assert await store.claim_next_queued("sunoapi_org", "me", time.time(), 30) == moved


async def test_while_a_provider_is_down_only_its_movable_or_overdue_tasks_are_claimed(store: Store) -> None:
    bound = await queued(store)
    free = await store.create_task(ALICE, "apiframe", ExtendRequest(clip_id="d", continue_at=5.0), bound=False)
    assert free is not None
    now = time.time()
    nothing_to_move = await store.claim_next_waiting("apiframe", "me", now, 30, created_before=0, movable=False)
    assert nothing_to_move is None
    movable = await store.claim_next_waiting("apiframe", "me", now, 30, created_before=0, movable=True)
    assert movable is not None and movable.id == free.id
    overdue = await store.claim_next_waiting("apiframe", "me", now, 30, created_before=now + 1, movable=False)
    assert overdue is not None and overdue.id == bound.id


async def test_poll_now_makes_a_task_at_its_provider_due_without_counting_an_attempt(store: Store) -> None:
    now = time.time()
    waiting, later, not_sent = await queued(store, "a"), await queued(store, "b"), await queued(store, "c")
    for task, next_poll in ((waiting, now + 600), (later, now - 5)):
        assert await store.begin_submit(task.id)
        assert await store.mark_submitted(task.id, f"p-{task.id}", next_poll_at=next_poll, by_webhook=True)
    assert await store.claim_due_polls("apiframe", "me", now, 10, 30) == [await store.get_task(later.id)]
    assert not await store.poll_now(waiting.id, "sunoapi", now)  # another provider's task
    assert await store.poll_now(waiting.id, "apiframe", now)
    assert await store.poll_now(later.id, "apiframe", now, poll_regularly=True)  # already due (and leased): stays so
    assert not await store.poll_now(not_sent.id, "apiframe", now)  # not at the provider
    claimed = await store.claim_due_polls("apiframe", "other", now + 1, 10, 30)
    assert [(task.id, task.attempts) for task in claimed] == [(waiting.id, 0)]  # `later` is still leased to "me"
    reports = {task.id: task.reports_by_webhook for task in await store.tasks_with_status(TaskStatus.SUBMITTED)}
    assert reports == {waiting.id: True, later.id: False}  # only `later` is polled at the usual pace from now on
