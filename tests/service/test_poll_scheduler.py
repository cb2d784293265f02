"""The real task service, store and sunoapi client against FakeSunoApi at its documented poll limit (2/s)."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from bot.domain.models import ExtendRequest, Requester, TaskStatus
from bot.providers import RateLimiter, SunoApiProvider
from bot.service import TaskService
from bot.store.sqlite import SqliteStore
from bot.web.server import WebServer
from tests.fakes.events import RecordingEvents
from tests.fakes.providers import FakeSunoApi

KEY = "fake-provider-key"
TASKS = 21


async def test_many_tasks_in_flight_never_exceed_the_documented_poll_limit(
    tmp_path: Path, http_session: aiohttp.ClientSession
) -> None:
    songs = [f"clip-{number}" for number in range(TASKS)]  # the account's songs, each extended once
    async with FakeSunoApi(KEY, submit_interval=0, poll_per_second=2, script=["complete"], clips=songs) as suno:
        provider = SunoApiProvider(
            http_session, suno.base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter.per_second(2)
        )
        store = await SqliteStore.open(tmp_path / "encore.db")
        now = time.time()
        for number in range(TASKS):
            request = ExtendRequest(clip_id=songs[number], continue_at=30.0, prompt=f"take {number}")
            task = await store.create_task(Requester(user_id=number, channel_id=1, guild_id=1), "sunoapi", request)
            assert task is not None
            await store.mark_submitted(task.id, await provider.submit_extend(request), next_poll_at=now)
        events = RecordingEvents()
        service = TaskService(store, provider, events, poll_interval=5.0, stall_timeout=900)
        await service.start()
        try:
            await events.wait_ended(range(1, TASKS + 1), timeout=30)
        finally:
            await service.stop()
        assert sorted(task.id for task in events.delivered) == list(range(1, TASKS + 1))
        assert (events.failed, events.undeliverable) == ([], [])
        assert [event for event in events.progressed if event.retrying] == []  # no poll was refused and retried
        polls = [poll.time for poll in suno.polls]
        assert suno.rate_limit_violations == []
        assert len(polls) == TASKS  # one poll per task: none wasted on a task already done
        assert all(later - earlier >= 1.0 for earlier, later in zip(polls, polls[2:], strict=False))
        assert {task.status for task in await store.tasks_with_status(TaskStatus.DELIVERED)} == {TaskStatus.DELIVERED}
        await store.close()


async def test_healthz_reports_the_gateway_and_the_database(
    tmp_path: Path, http_session: aiohttp.ClientSession
) -> None:
    store = await SqliteStore.open(tmp_path / "encore.db")
    provider = SunoApiProvider(
        http_session, "http://127.0.0.1:9", KEY, submit_limiter=None, poll_limiter=RateLimiter(2, 1)
    )
    service = TaskService(store, provider, RecordingEvents(), poll_interval=5.0, stall_timeout=900)
    gateway = {"up": True}
    server = WebServer(service, gateway_connected=lambda: gateway["up"], host="127.0.0.1", port=0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        async with http_session.get(url) as response:
            assert (response.status, (await response.json())["status"]) == (200, "ok")
        gateway["up"] = False
        async with http_session.get(url) as response:
            assert response.status == 503
            assert await response.json() == {
                "status": "unhealthy",
                "database": "ok",
                "gateway": "disconnected",
                "tasks_in_flight": 0,
                "loops": "not started",
                "provider": "unknown",  # no metrics given, so nothing is known of the provider
                "providers": "ok",
                "provider_health": {
                    "sunoapi": {"state": "up", "failures_in_a_row": 0, "retry_in_seconds": 0.0},
                },
            }
        gateway["up"] = True
        await store.close()
        async with http_session.get(url) as response:
            assert response.status == 503
            assert (await response.json())["database"] == "unavailable"
        async with http_session.post(f"http://127.0.0.1:{server.port}/webhooks/apiframe", json={}) as response:
            assert response.status == 404  # no receiver without a secret (sunoapi has no webhooks)
    finally:
        await server.stop()
