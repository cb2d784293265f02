"""The real task service over the real SQLite store (in memory), with typed fakes of its peers only.

The provider is `ScriptedSunoApi` (sunoapi.co's answers, read by the real parser) and the Discord side is
`RecordingEvents`; nothing of Encore's own is replaced. No loop is started: a test drives one step at a time
(`submit_next`, `poll_due`, `apply_update`), and deliveries run as the service starts them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.domain.models import ExtendRequest, Requester
from bot.domain.quota import QuotaPolicy
from bot.domain.records import TaskRecord
from bot.service import TaskService
from bot.store.sqlite import SqliteStore
from tests.fakes.events import RecordingEvents
from tests.fakes.scripted_provider import ScriptedSunoApi

GUILD = 1
CHANNEL = 10
MEMBER = 100
OTHER_MEMBER = 101
CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
POLL_INTERVAL = 0.001  # backoffs scale with it: a retried step waits microseconds, not seconds
STALL_TIMEOUT = 900.0
NO_QUOTA = QuotaPolicy(max_active_per_user=0, daily_per_user=0)


def requester(user_id: int = MEMBER, guild_id: int | None = GUILD) -> Requester:
    return Requester(user_id=user_id, channel_id=CHANNEL, guild_id=guild_id)


@pytest.fixture(autouse=True)
def no_drifted_fake(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The service logs and swallows what the Discord side raises, so that a failed notice never undoes a step.

    A fake that drifted from its port raises TypeError (a signature) or AttributeError (a method) there: that
    fails the test instead of vanishing into the log.
    """
    caplog.set_level(logging.INFO)
    yield
    drifted = [
        record.getMessage()
        for record in caplog.records
        if record.exc_info and isinstance(record.exc_info[1], TypeError | AttributeError)
    ]
    assert drifted == [], f"a fake does not fit the port it stands in for: {drifted}"


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(Path(":memory:"))
    yield store
    await store.close()


@pytest.fixture
def provider() -> ScriptedSunoApi:
    return ScriptedSunoApi()


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
async def service(store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents) -> AsyncIterator[TaskService]:
    service = TaskService(
        store, provider, events, poll_interval=POLL_INTERVAL, stall_timeout=STALL_TIMEOUT, quota=NO_QUOTA
    )
    yield service
    await service.stop(grace=5)


async def at_provider(service: TaskService, user_id: int = MEMBER, *, prompt: str = "take 1") -> TaskRecord:
    """A task the provider accepted, due for its first poll now."""
    request = ExtendRequest(clip_id=CLIP, continue_at=65.0, prompt=prompt)
    task = await service.store.create_task(requester(user_id), service.provider.name, request)
    assert task is not None
    provider_task_id = await service.provider.submit_extend(request)
    assert await service.store.mark_submitted(task.id, provider_task_id, next_poll_at=time.time())
    found = await service.store.get_task(task.id)
    assert found is not None
    return found


async def current(service: TaskService, task: TaskRecord) -> TaskRecord:
    found = await service.store.get_task(task.id)
    assert found is not None
    return found
