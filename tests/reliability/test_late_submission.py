"""A process paused past its lease while submitting (a VM freeze), on PostgreSQL shared by two processes.

Another process takes the task over and fails it as in doubt, as it must: it cannot know whether the provider got
it. When the paused process wakes up holding the provider's answer, the credit is spent: the task is resumed and
tracked, the requester is told that the song is coming after all, and the result is delivered. The provider saw
one submission. The pause is the real sunoapi client withholding its answer until the test lets it go, and the
lease runs out on the database's clock, set by the test: nothing here waits for time to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping

import aiohttp
import asyncpg

from bot.domain.models import GenerateRequest, Requester, TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.providers import RateLimiter, SunoApiProvider
from bot.service import ClipMedia, PostedParts, TaskService
from bot.service._submit import IN_DOUBT_MESSAGE
from bot.store.postgres import PostgresStore
from tests.fakes.providers import FakeSunoApi
from tests.support.postgres import fresh_database

KEY = "late-submission-key"
ALICE = Requester(user_id=11, channel_id=21, guild_id=31)


class PausedAfterSubmit(SunoApiProvider):
    """The real client, in a process that freezes once the provider has accepted a submission, until thawed."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        super().__init__(session, base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter.per_second(50))
        self.answered = asyncio.Event()
        self.thawed = asyncio.Event()

    async def submit_generate(self, request: GenerateRequest) -> str:
        provider_task_id = await super().submit_generate(request)
        self.answered.set()
        await self.thawed.wait()
        return provider_task_id


class PausedInSlot(SunoApiProvider):
    """The real client, in a process that freezes while it waits for its turn to submit, until thawed."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        super().__init__(session, base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter.per_second(50))
        self.waiting = asyncio.Event()
        self.thawed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def submit_slot(self) -> AsyncIterator[None]:
        self.waiting.set()
        await self.thawed.wait()
        yield


class Told:
    """What one process's Discord side was asked to say and post."""

    def __init__(self) -> None:
        self.failed: list[TaskRecord] = []
        self.resumed: list[TaskRecord] = []
        self.delivered = asyncio.Event()

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        pass

    async def task_failed(self, task: TaskRecord) -> None:
        self.failed.append(task)

    async def task_resumed(self, task: TaskRecord) -> None:
        self.resumed.append(task)

    def upload_limit(self, guild_id: int | None) -> int:
        return 10 * 1024 * 1024

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        await parts.add(0, 7000 + task.id)
        return 7000 + task.id

    async def task_delivered(self, task: TaskRecord) -> None:
        self.delivered.set()

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        raise AssertionError(f"task {task.id} undeliverable")


async def expire_lease(url: str, task_id: int) -> None:
    """The pause outlasts the lease: it runs out on the database's clock, which every process reads."""
    db = await asyncpg.connect(url)
    try:
        await db.execute("UPDATE tasks SET lease_until = 0 WHERE id = $1", task_id)
    finally:
        await db.close()


def service(store: PostgresStore, provider: SunoApiProvider, told: Told, owner: str) -> TaskService:
    return TaskService(store, provider, told, poll_interval=0.05, stall_timeout=60.0, owner=owner, lease_seconds=30.0)


async def test_a_late_answer_to_a_task_failed_in_doubt_is_tracked_corrected_and_delivered(
    http_session: aiohttp.ClientSession,
) -> None:
    async with (
        fresh_database() as url,
        FakeSunoApi(KEY, submit_interval=0, poll_per_second=None, script=["submitted", "complete"]) as fake,
    ):
        paused_store, other_store = await PostgresStore.open(url, pool_size=2), await PostgresStore.open(url)
        paused_provider = PausedAfterSubmit(http_session, fake.base_url)
        other_provider = SunoApiProvider(
            http_session, fake.base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter.per_second(50)
        )
        told_paused, told_other = Told(), Told()
        paused = service(paused_store, paused_provider, told_paused, "paused")
        other = service(other_store, other_provider, told_other, "other")
        try:
            task = await paused_store.create_task(ALICE, "sunoapi", GenerateRequest(prompt="night drive"))
            assert task is not None
            sending = asyncio.create_task(paused.submitter.submit_next())
            await asyncio.wait_for(paused_provider.answered.wait(), timeout=10)
            await expire_lease(url, task.id)

            await other.submitter.submit_next()  # takes the task over: its submission is in doubt
            assert [(failed.id, failed.error) for failed in told_other.failed] == [(task.id, IN_DOUBT_MESSAGE)]

            paused_provider.thawed.set()
            await asyncio.wait_for(sending, timeout=10)
            [submit] = fake.submits
            resumed = await other_store.get_task(task.id)
            assert resumed is not None and resumed.status is TaskStatus.SUBMITTED
            assert resumed.provider_task_id == submit.task_id and resumed.error is None
            assert [told.id for told in told_paused.resumed] == [task.id]

            await other.start()
            await asyncio.wait_for(told_other.delivered.wait(), timeout=20)
            await other.stop()
            delivered = await paused_store.get_task(task.id)
            assert delivered is not None and delivered.status is TaskStatus.DELIVERED
            assert delivered.result_message_id == 7000 + task.id
            assert [song.provider_task_id for song in await paused_store.songs_of_task(task.id)] == [submit.task_id] * 2
            assert len(fake.submits) == 1  # paid once
        finally:
            await paused_store.close()
            await other_store.close()


async def test_a_process_paused_past_its_lease_before_sending_leaves_the_task_to_its_new_owner(
    http_session: aiohttp.ClientSession,
) -> None:
    """The lease is checked right before the provider call: a claimer paused while waiting for its turn to send
    (here, in the provider's submit slot) finds the task leased by another process, and does not send it."""
    async with fresh_database() as url, FakeSunoApi(KEY, submit_interval=0, poll_per_second=None) as fake:
        paused_store, other_store = await PostgresStore.open(url, pool_size=2), await PostgresStore.open(url)
        provider = PausedInSlot(http_session, fake.base_url)
        paused = service(paused_store, provider, Told(), "paused")
        try:
            task = await paused_store.create_task(ALICE, "sunoapi", GenerateRequest(prompt="night drive"))
            assert task is not None
            sending = asyncio.create_task(paused.submitter.submit_next())
            await asyncio.wait_for(provider.waiting.wait(), timeout=10)
            await expire_lease(url, task.id)
            retaken = await other_store.claim_next_queued("sunoapi", "other", time.time(), 30.0)
            assert retaken is not None and retaken.id == task.id

            provider.thawed.set()
            await asyncio.wait_for(sending, timeout=10)
            assert fake.submits == []
            left = await other_store.get_task(task.id)
            assert left is not None and left.status is TaskStatus.QUEUED and left.submit_started_at is None
            assert await other_store.begin_submit(task.id, "other")  # the new owner sends it
        finally:
            await paused_store.close()
            await other_store.close()
