"""Malformed provider answers: an answer Encore cannot read is a fault of the task it is about, and of no other.

The real task service, SQLite store and provider clients run against the provider fakes, which serve a raw answer
for one task (`answer_raw`). That task is polled with backoff and failed with a reason after the stall timeout;
the healthy tasks beside it finish. Hypothesis drives the parsers over answer shapes (apiframe's parser also
reads webhook bodies, driven through the real receiver in `test_webhook_faults.py`).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.models import Clip, GenerateRequest, ProviderState, ProviderTask, Requester, TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.providers import (
    ApiframeProvider,
    Provider,
    ProviderAnswerMalformed,
    RateLimiter,
    SunoApiProvider,
    answers,
    apiframe,
    sunoapi,
)
from bot.service import ClipMedia, PostedParts, TaskEvents, TaskService
from bot.store.sqlite import SqliteStore
from tests.fakes.providers import FakeApiframe, FakeProvider, FakeSunoApi
from tests.reliability.shapes import apiframe_answers, suno_answers

KEY = "malformed-answers-key"
STALL_TIMEOUT = 1.5
POLL_INTERVAL = 0.1
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Outcomes(TaskEvents):
    """The Discord side reduced to what happened to each task; `settled` is set once every expected task ended."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.delivered: list[int] = []
        self.failed: dict[int, tuple[str, float]] = {}
        self.settled = asyncio.Event()

    def _check(self) -> None:
        if len(self.delivered) + len(self.failed) >= self.expected:
            self.settled.set()

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        pass

    async def task_resumed(self, task: TaskRecord) -> None:
        raise AssertionError(f"task {task.id} resumed")

    async def task_failed(self, task: TaskRecord) -> None:
        self.failed[task.id] = (task.error or "", time.time())
        self._check()

    def upload_limit(self, guild_id: int | None) -> int:
        return 10 * 1024 * 1024

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        return task.id

    async def task_delivered(self, task: TaskRecord) -> None:
        self.delivered.append(task.id)
        self._check()

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        raise AssertionError(f"task {task.id} undeliverable")


def client(kind: str, session: aiohttp.ClientSession, fake: FakeProvider) -> Provider:
    if kind == "sunoapi":
        return SunoApiProvider(
            session, fake.base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter.per_second(50)
        )
    return ApiframeProvider(session, fake.base_url, KEY)


def fake_of(kind: str) -> FakeProvider:
    if kind == "sunoapi":
        return FakeSunoApi(KEY, submit_interval=0, poll_per_second=None, script=["submitted", "streaming", "complete"])
    return FakeApiframe(KEY, script=["pending", ("processing", 40), "finished"])


def bad_answer(kind: str, fault: str, task_id: str) -> dict[str, Any]:
    """The answers of the issue: a clip title that is an object, a clip list that is a number, a NaN percentage."""
    if kind == "sunoapi":
        clips: Any = 5 if fault == "list" else [{"continue_clip_id": str(uuid.uuid4()), "title": {"text": "x"}}]
        return {"code": 200, "task_id": task_id, "status": "complete", "clips": clips}
    if fault == "list":
        return {"task_id": task_id, "status": "finished", "songs": 5}
    return {"task_id": task_id, "status": "processing", "percentage": math.nan}


@pytest.mark.parametrize(
    ("kind", "fault"), [("sunoapi", "type"), ("sunoapi", "list"), ("apiframe", "nan"), ("apiframe", "list")]
)
async def test_one_unreadable_task_is_backed_off_and_failed_while_the_others_finish(
    tmp_path: Path, http_session: aiohttp.ClientSession, kind: str, fault: str
) -> None:
    async with fake_of(kind) as fake:
        provider = client(kind, http_session, fake)
        store = await SqliteStore.open(tmp_path / "encore.db")
        task_ids: list[int] = []
        provider_ids: list[str] = []
        for number in range(4):
            request = GenerateRequest(prompt=f"take {number}", model="V4_5" if kind == "apiframe" else None)
            task = await store.create_task(Requester(user_id=number, channel_id=1, guild_id=1), kind, request)
            assert task is not None
            provider_id = await provider.submit_generate(request)
            await store.mark_submitted(task.id, provider_id, next_poll_at=time.time())
            task_ids.append(task.id)
            provider_ids.append(provider_id)
        bad_task, bad_id = task_ids[1], provider_ids[1]
        fake.answer_raw(bad_id, bad_answer(kind, fault, bad_id))
        outcomes = Outcomes(expected=len(task_ids))
        service = TaskService(store, provider, outcomes, poll_interval=POLL_INTERVAL, stall_timeout=STALL_TIMEOUT)
        started = time.time()
        await service.start()
        try:
            await asyncio.wait_for(outcomes.settled.wait(), timeout=20)
        finally:
            await service.stop()
        assert sorted(outcomes.delivered) == [task for task in task_ids if task != bad_task]
        reason, failed_at = outcomes.failed[bad_task]
        assert "could not read" in reason and failed_at - started >= STALL_TIMEOUT
        stored = await store.get_task(bad_task)
        assert stored is not None and stored.status is TaskStatus.FAILED and stored.error == reason
        bad_polls = [poll for poll in fake.polls if poll.task_id == bad_id]
        unpaced = STALL_TIMEOUT / POLL_INTERVAL  # what polling at the plain interval would have cost
        assert 2 <= len(bad_polls) <= unpaced / 2, len(bad_polls)
        gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(bad_polls)]
        assert gaps[-1] > gaps[0]  # backed off: the polls of the unreadable task spread out
        await store.close()


async def test_reused_clip_ids_post_each_song_once_and_never_overwrite_one(
    tmp_path: Path, http_session: aiohttp.ClientSession
) -> None:
    """A repeated id in one answer is one song; an id Encore already stores for another task fails the new task."""
    async with FakeSunoApi(KEY, submit_interval=0, poll_per_second=None, script=["complete"]) as fake:
        provider = client("sunoapi", http_session, fake)
        store = await SqliteStore.open(tmp_path / "encore.db")
        tasks: list[tuple[int, str]] = []
        for number in range(3):
            request = GenerateRequest(prompt=f"take {number}")
            task = await store.create_task(Requester(user_id=number, channel_id=1, guild_id=1), "sunoapi", request)
            assert task is not None
            provider_id = await provider.submit_generate(request)
            await store.mark_submitted(task.id, provider_id, next_poll_at=time.time() + number)
            tasks.append((task.id, provider_id))
        (first, first_id), (twice, twice_id), (reused, reused_id) = tasks
        old_clip = fake.tasks[first_id].clip_ids[0]

        def clip(clip_id: str, audio: str) -> dict[str, Any]:
            return {"continue_clip_id": clip_id, "status": "complete", "audio_url": f"{fake.base_url}/{audio}.mp3"}

        one = str(uuid.uuid4())
        fake.answer_raw(twice_id, {"code": 200, "status": "complete", "clips": [clip(one, "a"), clip(one, "b")]})
        fake.answer_raw(reused_id, {"code": 200, "status": "complete", "clips": [clip(old_clip, "overwrite")]})
        outcomes = Outcomes(expected=3)
        service = TaskService(store, provider, outcomes, poll_interval=POLL_INTERVAL, stall_timeout=STALL_TIMEOUT)
        await service.start()
        try:
            await asyncio.wait_for(outcomes.settled.wait(), timeout=20)
        finally:
            await service.stop()
        assert sorted(outcomes.delivered) == [first, twice]
        assert [(song.clip_id, song.audio_url) for song in await store.songs_of_task(twice)] == [
            (one, f"{fake.base_url}/a.mp3")
        ]
        assert "already has" in outcomes.failed[reused][0]
        kept = await store.get_song(old_clip)
        assert kept is not None and kept.task_id == first and kept.audio_url == fake.audio_url(old_clip)
        await store.close()


def assert_well_formed(task: ProviderTask) -> None:
    """What every parsed answer is: the documented types, within their bounds, no clip twice."""
    assert isinstance(task.state, ProviderState) and isinstance(task.raw_status, str)
    assert len(task.raw_status) <= answers.STATUS_MAX
    assert task.progress is None or (isinstance(task.progress, int) and 0 <= task.progress <= 100)
    assert task.error is None or (isinstance(task.error, str) and 0 < len(task.error) <= answers.REASON_MAX)
    assert len({clip.id for clip in task.clips}) == len(task.clips)
    for clip in task.clips:
        assert isinstance(clip, Clip) and answers.IDENTIFIER.fullmatch(clip.id)
        for link in (clip.audio_url, clip.image_url):
            assert link is None or (isinstance(link, str) and link.startswith(("https://", "http://")))
        assert clip.title is None or (isinstance(clip.title, str) and len(clip.title) <= answers.TITLE_MAX)
        assert clip.duration is None or (math.isfinite(clip.duration) and 0 < clip.duration <= 3600)
    if task.state is ProviderState.SUCCEEDED:
        assert task.clips and all(clip.audio_url for clip in task.clips)


@EXAMPLES
@given(answer=suno_answers)
def test_sunoapi_parser_returns_a_well_formed_task_or_says_malformed(answer: dict[str, Any]) -> None:
    try:
        task = sunoapi.parse_task("t", answer)
    except ProviderAnswerMalformed as error:
        assert error.retryable and error.message
    else:
        assert_well_formed(task)


@EXAMPLES
@given(data=st.data())
def test_apiframe_parser_returns_a_well_formed_task_or_says_malformed(data: st.DataObject) -> None:
    answer = data.draw(apiframe_answers("t"))
    try:
        task = apiframe.parse_task(answer)
    except ProviderAnswerMalformed as error:
        assert error.retryable and error.message
    else:
        assert_well_formed(task)
        assert task.task_id == answer["task_id"]


@dataclass
class Live:
    """Fakes, a real apiframe client and a real task service on SQLite, on one event loop for the whole module."""

    loop: asyncio.AbstractEventLoop
    apiframe: FakeApiframe
    provider: ApiframeProvider
    service: TaskService
    store: SqliteStore
    session: aiohttp.ClientSession


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    loop = asyncio.new_event_loop()

    async def build() -> Live:
        fake = await FakeApiframe(KEY, script=["finished"], credits=10**9).start()
        session = aiohttp.ClientSession()
        provider = ApiframeProvider(session, fake.base_url, KEY)
        store = await SqliteStore.open(tmp_path_factory.mktemp("malformed") / "encore.db")
        service = TaskService(store, provider, Outcomes(expected=0), poll_interval=60, stall_timeout=900)
        return Live(loop, fake, provider, service, store, session)

    state = loop.run_until_complete(build())
    yield state

    async def close() -> None:
        await state.service.stop()
        await state.store.close()
        await state.session.close()
        await state.apiframe.close()

    loop.run_until_complete(close())
    loop.close()


@EXAMPLES
@given(data=st.data())
def test_fetch_many_contains_a_malformed_task_and_reads_the_rest(live: Live, data: st.DataObject) -> None:
    async def check() -> None:
        provider_ids = [await live.provider.submit_generate(GenerateRequest(prompt="x", model="V4")) for _ in range(3)]
        bad = provider_ids[0]
        live.apiframe.answer_raw(bad, data.draw(apiframe_answers(bad)))
        results = await live.provider.fetch(provider_ids)
        assert [result.task_id for result in results] == provider_ids
        if results[0].malformed is None:
            assert_well_formed(results[0])
        else:
            assert results[0].state is ProviderState.UNKNOWN
        for healthy in results[1:]:
            assert healthy.state is ProviderState.SUCCEEDED and len(healthy.clips) == 2 and healthy.malformed is None

    live.loop.run_until_complete(check())
