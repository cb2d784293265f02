"""Leases: concurrent claimers never get the same task, a lease ends with its task's next step or when it runs out,
and a submission left in flight by a dead process comes back as in doubt, never as new."""

from __future__ import annotations

import asyncio
import time

from bot.domain.models import Clip, GenerateRequest, Requester, TaskStatus
from bot.store import Store

ALICE = Requester(user_id=11, channel_id=21, guild_id=31)
LEASE = 30.0
EXPIRED = 0.0  # a lease that has already run out, as a dead process's would


async def queued(store: Store, count: int, provider: str = "sunoapi") -> list[int]:
    ids = []
    for number in range(count):
        task = await store.create_task(ALICE, provider, GenerateRequest(prompt=f"song {number}"), dedupe_seconds=0)
        assert task is not None
        ids.append(task.id)
    return ids


async def at_provider(store: Store, count: int) -> list[int]:
    ids = await queued(store, count)
    for task_id in ids:
        assert await store.mark_submitted(task_id, f"p-{task_id}", next_poll_at=0)
    return ids


async def drain_queue(store: Store, owner: str) -> list[int]:
    """Claim queued tasks until none is left, as one process's submit loop would."""
    taken = []
    while task := await store.claim_next_queued("sunoapi", owner, time.time(), LEASE):
        taken.append(task.id)
    return taken


async def test_two_claimers_never_get_the_same_queued_task(claimers: tuple[Store, Store]) -> None:
    first, second = claimers
    ids = await queued(first, 20)
    mine, theirs = await asyncio.gather(drain_queue(first, "a"), drain_queue(second, "b"))
    assert sorted(mine + theirs) == ids
    assert not set(mine) & set(theirs)
    assert mine == sorted(mine) and theirs == sorted(theirs)  # each takes them oldest first


async def test_two_claimers_never_poll_the_same_task(claimers: tuple[Store, Store]) -> None:
    first, second = claimers
    ids = await at_provider(first, 20)
    batches = await asyncio.gather(
        *(
            claimer.claim_due_polls("sunoapi", owner, time.time(), 3, LEASE)
            for claimer, owner in [(first, "a"), (second, "b")] * 4
        )
    )
    taken = [task.id for batch in batches for task in batch]
    assert len(taken) == len(set(taken)) == 20 and sorted(taken) == ids
    assert await second.claim_due_polls("sunoapi", "c", time.time(), 3, LEASE) == []
    assert await second.next_active_due_at("sunoapi") is None  # all leased: nothing due for anyone else


async def test_only_one_of_many_delivery_claims_wins(claimers: tuple[Store, Store]) -> None:
    first, second = claimers
    [task_id] = await at_provider(first, 1)
    task = await first.get_task(task_id)
    assert task is not None and await first.mark_succeeded(task, [Clip("c1", "https://a/1.mp3", None)])
    claims = await asyncio.gather(
        *(claimer.claim_delivery(task_id, f"owner-{n}", LEASE) for n, claimer in enumerate([first, second] * 4))
    )
    assert claims.count(True) == 1
    assert await first.mark_delivered(task_id, 555, {})
    assert not await second.claim_delivery(task_id, "late", LEASE)


async def test_a_step_releases_the_lease_and_an_expired_lease_frees_the_task(claimers: tuple[Store, Store]) -> None:
    first, second = claimers
    [task_id] = await queued(first, 1)
    claimed = await first.claim_next_queued("sunoapi", "a", time.time(), LEASE)
    assert claimed is not None and claimed.id == task_id
    assert await second.claim_next_queued("sunoapi", "b", time.time(), LEASE) is None
    assert await second.next_queued_due_at("sunoapi") is None
    assert await first.defer_submit(task_id, retry_at=0, note="retrying")  # the step ends the lease
    again = await second.claim_next_queued("sunoapi", "b", time.time(), EXPIRED)
    assert again is not None and again.id == task_id
    late = await first.claim_next_queued("sunoapi", "a", time.time(), LEASE)  # b's lease ran out: b died
    assert late is not None and late.id == task_id


async def test_a_submission_in_flight_when_its_process_died_comes_back_in_doubt(
    claimers: tuple[Store, Store],
) -> None:
    first, second = claimers
    [task_id] = await queued(first, 1)
    claimed = await first.claim_next_queued("sunoapi", "dead", time.time(), EXPIRED)
    assert claimed is not None and claimed.submit_started_at is None
    assert await first.begin_submit(task_id)
    in_doubt = await second.claim_next_queued("sunoapi", "alive", time.time(), LEASE)
    assert in_doubt is not None and in_doubt.id == task_id and in_doubt.submit_started_at is not None
    assert not await second.begin_submit(task_id)  # never sent a second time


async def test_a_live_owner_renews_only_the_leases_it_uses(claimers: tuple[Store, Store]) -> None:
    first, second = claimers
    in_use, left = await at_provider(first, 2)
    claimed = await first.claim_due_polls("sunoapi", "a", time.time(), 2, EXPIRED)
    assert [task.id for task in claimed] == [in_use, left]
    await first.renew_leases("a", [in_use], LEASE)
    assert [task.id for task in await second.claim_due_polls("sunoapi", "b", time.time(), 2, LEASE)] == [left]
    await second.renew_leases("b", [in_use], LEASE)  # not b's: nothing changes
    await first.release_leases("a")
    assert [task.id for task in await second.claim_due_polls("sunoapi", "b", time.time(), 2, LEASE)] == [in_use]


async def test_claims_keep_to_their_provider_and_to_due_tasks(store: Store) -> None:
    [apiframe_task] = await queued(store, 1, provider="apiframe")
    [later] = await queued(store, 1)
    assert await store.defer_submit(later, retry_at=time.time() + 60, note="retrying")
    assert await store.claim_next_queued("sunoapi", "a", time.time(), LEASE) is None
    due_at = await store.next_queued_due_at("sunoapi")
    assert due_at is not None and due_at > time.time() + 50
    claimed = await store.claim_next_queued("apiframe", "a", time.time(), LEASE)
    assert claimed is not None and claimed.id == apiframe_task
    assert (await store.get_task(later)).status is TaskStatus.QUEUED  # type: ignore[union-attr]
