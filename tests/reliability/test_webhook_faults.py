"""Webhook faults through the real receiver: whatever a caller sends, Encore answers a small JSON 4xx or 200.

A non-UTF-8 secret header, a body nested 200,000 levels deep, `songs: 5`, `percentage: NaN`, an oversized body
or any hypothesis-drawn body: never a 500 or a traceback, never a change to another task; refused calls are
logged as a summary, not a line each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.models import GenerateRequest, Requester, TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.providers import ApiframeProvider
from bot.service import ClipMedia, PostedParts, TaskEvents, TaskService
from bot.store.sqlite import SqliteStore
from bot.web.server import MAX_WEBHOOK_BYTES, REFUSAL_LOG_SECONDS, WebServer
from tests.reliability.shapes import apiframe_answers

SECRET = "the-webhook-secret"
PATH = "/webhooks/apiframe"


class Quiet(TaskEvents):
    """The Discord side, which is not under test: every event is accepted and forgotten."""

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        pass

    async def task_resumed(self, task: TaskRecord) -> None:
        pass

    async def task_failed(self, task: TaskRecord) -> None:
        pass

    def upload_limit(self, guild_id: int | None) -> int:
        return 10 * 1024 * 1024

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        return task.id

    async def task_delivered(self, task: TaskRecord) -> None:
        pass

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        pass


@dataclass
class Receiver:
    server: WebServer
    store: SqliteStore
    session: aiohttp.ClientSession
    clock: list[float]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{PATH}"

    async def post(self, body: bytes, secret: str | None = SECRET) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", **({"x-webhook-secret": secret} if secret else {})}
        async with self.session.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.json()

    async def task_at_provider(self) -> tuple[int, str]:
        provider_id = str(uuid.uuid4())
        request = GenerateRequest(prompt=provider_id, model="V4")
        task = await self.store.create_task(Requester(user_id=1, channel_id=1, guild_id=1), "apiframe", request)
        assert task is not None
        await self.store.mark_submitted(task.id, provider_id, next_poll_at=time.time() + 600, by_webhook=True)
        return task.id, provider_id


def finished(provider_id: str) -> bytes:
    song = {"song_id": str(uuid.uuid4()), "audio_url": "https://cdn.example/a.mp3"}
    return json.dumps({"task_id": provider_id, "status": "finished", "songs": [song]}).encode()


async def open_receiver(database: Path) -> tuple[Receiver, TaskService]:
    store = await SqliteStore.open(database)
    session = aiohttp.ClientSession()
    provider = ApiframeProvider(session, "http://127.0.0.1:9", "unused-key", webhook_secret=SECRET)
    service = TaskService(store, provider, Quiet(), poll_interval=60, stall_timeout=900)
    clock = [1000.0]
    server = WebServer(
        service,
        gateway_connected=lambda: True,
        host="127.0.0.1",
        port=0,
        clock=lambda: clock[0],
    )
    await server.start()
    return Receiver(server, store, session, clock), service


async def close_receiver(receiver: Receiver, service: TaskService) -> None:
    await service.stop()
    await receiver.server.stop()
    await receiver.store.close()
    await receiver.session.close()


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    opened, service = await open_receiver(tmp_path / "encore.db")
    yield opened
    await close_receiver(opened, service)


async def raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    """One HTTP/1.1 request written byte for byte (a client library would refuse a non-UTF-8 header)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_a_secret_header_that_is_not_utf8_is_refused_before_anything_else(receiver: Receiver) -> None:
    for secret in (b"\xff\xfe\xfa", SECRET.encode() + b"\xc3", b"\x80" * 64):
        answer = await raw_request(
            receiver.server.port,
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode() + b"x-webhook-secret: " + secret + b"\r\n",
            b"{",
        )
        assert answer.startswith(b"HTTP/1.1 401") and b"Traceback" not in answer, answer[:200]
    doubled = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nx-webhook-secret: {SECRET}\r\nx-webhook-secret: {SECRET}\r\n"
    assert (await raw_request(receiver.server.port, doubled.encode(), b"{}")).startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 200_000 + b"]" * 200_000, 413),  # 200,000 levels are over the size cap
        (b"[" * 100_000 + b"]" * 100_000, 400),  # within it, too deep to parse
        (b'{"task_id": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_000 + b"}", 400),
        (b'{"task_id": "t", "status": "finished", "songs": 5}', 400),
        (b'{"task_id": "t", "status": "processing", "percentage": NaN}', 400),
        (b"\xff\xfe not json", 400),
        (b"[]", 400),
        (b"{}", 400),
    ],
)
async def test_bodies_encore_cannot_read_are_refused_and_change_nothing(
    receiver: Receiver, body: bytes, expected: int
) -> None:
    task_id, provider_id = await receiver.task_at_provider()
    status, answer = await receiver.post(body.replace(b'"t"', json.dumps(provider_id).encode()))
    assert status == expected and set(answer) == {"error"}
    task = await receiver.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUBMITTED
    assert await receiver.post(finished(provider_id)) == (200, {"applied": True})


async def test_an_oversized_body_is_refused_unread(receiver: Receiver) -> None:
    assert (await receiver.post(b" " * (MAX_WEBHOOK_BYTES + 1)))[0] == 413


async def test_wrong_secrets_are_logged_as_a_summary_not_a_line_each(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.web.server"):
        for _ in range(50):
            assert (await receiver.post(b"{}", secret="guessed-secret-123"))[0] == 401
        assert (await receiver.post(b"{}", secret=None))[0] == 401
        receiver.clock[0] += REFUSAL_LOG_SECONDS
        assert (await receiver.post(b"{}", secret="guessed-secret-123"))[0] == 401
        assert (await receiver.post(b"{}", secret="guessed-secret-123"))[0] == 401
        await receiver.server.stop()
    lines = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert [line.split(" call(s)")[0] for line in lines] == [
        "webhook: refused 1",
        "webhook: refused 51",
        "webhook: refused 1",
    ]
    assert all("guessed-secret-123" not in line and SECRET not in line for line in lines)


@dataclass
class Live:
    loop: asyncio.AbstractEventLoop
    receiver: Receiver
    service: TaskService


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    loop = asyncio.new_event_loop()
    receiver, service = loop.run_until_complete(open_receiver(tmp_path_factory.mktemp("webhooks") / "encore.db"))
    yield Live(loop, receiver, service)
    loop.run_until_complete(close_receiver(receiver, service))
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_webhook_body_is_a_200_or_a_400_and_the_other_tasks_still_finish(live: Live, data: st.DataObject) -> None:
    async def check() -> None:
        receiver = live.receiver
        (bad_task, bad_id), (good_task, good_id) = await receiver.task_at_provider(), await receiver.task_at_provider()
        body = data.draw(apiframe_answers(bad_id))
        status, _ = await receiver.post(json.dumps(body).encode())
        assert status in (200, 400)
        assert await receiver.post(finished(good_id)) == (200, {"applied": True})
        good = await receiver.store.get_task(good_task)
        assert good is not None and good.status in (TaskStatus.SUCCEEDED, TaskStatus.DELIVERED)
        bad = await receiver.store.get_task(bad_task)
        assert bad is not None and bad.provider_task_id == bad_id

    live.loop.run_until_complete(check())
