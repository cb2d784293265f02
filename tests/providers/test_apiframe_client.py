"""The real apiframe client against a local fake of its documented contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.domain.models import ExtendRequest, ProviderState
from bot.providers import (
    ApiframeProvider,
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.fakes.providers import FakeApiframe

KEY = "apiframe-secret-key"
PARENT = str(uuid.uuid4())
SONG = str(uuid.uuid4())
REQUEST = ExtendRequest(
    clip_id=SONG,
    continue_at=95.5,
    parent_task_id=PARENT,
    lyrics="la la",
    prompt="slower",
    style="lofi",
    title="T",
    model="V4_5",
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiframe]:
    async with FakeApiframe(KEY) as server:
        server.seed_task(PARENT, songs=[SONG, str(uuid.uuid4())])
        yield server


def client(session: aiohttp.ClientSession, fake: FakeApiframe, key: str = KEY) -> ApiframeProvider:
    return ApiframeProvider(session, fake.base_url, key)


async def test_extend_maps_the_request_onto_the_documented_fields(
    fake: FakeApiframe, http_session: aiohttp.ClientSession
) -> None:
    task_id = await client(http_session, fake).submit_extend(REQUEST)
    submit = await fake.wait_for_submit()
    assert submit.task_id == task_id
    assert submit.json == {
        "parent_task_id": PARENT,
        "song_id": SONG,
        "continue_at": 95.5,
        "lyrics": "la la",
        "prompt": "slower",
        "model": "V4_5",
        "title": "T",
        "tags": "lofi",
    }
    assert fake.requests[-1].headers["authorization"] == KEY


async def test_polling_reports_progress_and_finished_songs(
    fake: FakeApiframe, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(REQUEST)
    seen = []
    while True:
        (task,) = await provider.fetch([task_id])
        seen.append((task.state, task.progress))
        if task.state is ProviderState.SUCCEEDED:
            break
    assert seen == [
        (ProviderState.QUEUED, None),
        (ProviderState.QUEUED, None),
        (ProviderState.RUNNING, 20),
        (ProviderState.RUNNING, 56),
        (ProviderState.RUNNING, 90),
        (ProviderState.SUCCEEDED, None),
    ]
    assert len(task.clips) == 2
    assert all(clip.audio_url == fake.audio_url(clip.id) for clip in task.clips)


async def test_fetch_many_batches_and_reports_missing_tasks(
    fake: FakeApiframe, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    task_ids = [await provider.submit_extend(REQUEST) for _ in range(3)]
    results = await provider.fetch([*task_ids, "not-a-task"])
    assert [task.task_id for task in results] == [*task_ids, "not-a-task"]
    assert [task.state for task in results] == [ProviderState.QUEUED] * 3 + [ProviderState.UNKNOWN]
    assert len(fake.calls("/fetch-many")) == 1 and fake.calls("/fetch") == []
    (single,) = await provider.fetch(["not-a-task"])
    assert single.state is ProviderState.UNKNOWN


async def test_failed_task_carries_the_reason(fake: FakeApiframe, http_session: aiohttp.ClientSession) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(REQUEST)
    fake.fail(task_id, "copyrighted lyrics")
    (task,) = await provider.fetch([task_id])
    assert (task.state, task.error) == (ProviderState.FAILED, "copyrighted lyrics")


async def test_bad_key(fake: FakeApiframe, http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderAuthError) as caught:
        await client(http_session, fake, key="nope-nope").submit_extend(REQUEST)
    assert "nope-nope" not in str(caught.value)


async def test_bad_request_says_why(fake: FakeApiframe, http_session: aiohttp.ClientSession) -> None:
    unknown_parent = ExtendRequest(clip_id=SONG, continue_at=5, parent_task_id=str(uuid.uuid4()))
    with pytest.raises(ProviderRejected) as caught:
        await client(http_session, fake).submit_extend(unknown_parent)
    assert caught.value.message and not caught.value.retryable


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 500, "body": {}}, ProviderUnavailable),
        ({"status": 429, "body": {}}, ProviderRateLimited),
        ({"status": 200, "raw": b"<html>"}, ProviderUnavailable),
        ({"status": 200, "raw": b" " * (1024 * 1024 + 1)}, ProviderAnswerMalformed),
        ({"status": 200, "raw": b"[" * 50_000 + b"]" * 50_000}, ProviderUnavailable),
        ({"status": 200, "body": {"task_id": 5}}, ProviderAnswerMalformed),
        ({"status": 200, "body": ["task"]}, ProviderAnswerMalformed),  # may have been accepted: never a refusal
        ({"status": 200, "raw": b'"accepted"'}, ProviderAnswerMalformed),
        ({"reset_connection": True}, ProviderUnavailable),
    ],
)
async def test_transient_faults(
    fake: FakeApiframe, http_session: aiohttp.ClientSession, fault: dict[str, object], error: type[Exception]
) -> None:
    fake.inject("/suno-extend", **fault)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        await client(http_session, fake).submit_extend(REQUEST)
    assert caught.value.retryable  # type: ignore[attr-defined]
    assert fake.submits == []


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"finished"', b"7"])
async def test_a_fetch_answer_that_is_not_an_object_is_malformed_not_missing(
    fake: FakeApiframe, http_session: aiohttp.ClientSession, raw: bytes
) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(REQUEST)
    fake.inject("/fetch", status=200, raw=raw)
    (task,) = await provider.fetch([task_id])
    assert (task.state, task.raw_status) == (ProviderState.UNKNOWN, "malformed")
    assert task.malformed and "not a JSON object" in task.malformed
    (missing,) = await provider.fetch([str(uuid.uuid4())])
    assert (missing.state, missing.raw_status, missing.malformed) == (ProviderState.UNKNOWN, "missing", None)
