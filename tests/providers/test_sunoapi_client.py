"""The real sunoapi.co client against a local fake of its documented contract."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.domain.models import ExtendRequest, ProviderState
from bot.providers import (
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    RateLimiter,
    SunoApiProvider,
)
from tests.fakes.providers import FakeSunoApi

KEY = "sunoapi-secret-key"
CLIP = "3f2a1c9b-1111-4222-8333-444455556666"  # a song the account made, seeded in the fake
REQUEST = ExtendRequest(
    clip_id=CLIP,
    continue_at=65.5,
    lyrics="[Verse]\nla la",
    style="dream pop",
    title="Echoes",
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSunoApi]:
    async with FakeSunoApi(KEY, submit_interval=0.3, poll_per_second=2, poll_window=0.25, clips=[CLIP]) as server:
        yield server


def client(session: aiohttp.ClientSession, fake: FakeSunoApi, key: str = KEY, **kwargs: object) -> SunoApiProvider:
    options: dict[str, object] = {
        "submit_limiter": RateLimiter(1, 0.3),
        "poll_limiter": RateLimiter(2, 0.25),
        **kwargs,
    }
    return SunoApiProvider(session, fake.base_url, key, **options)  # type: ignore[arg-type]


async def test_extend_maps_the_request_onto_the_documented_fields(
    fake: FakeSunoApi, http_session: aiohttp.ClientSession
) -> None:
    task_id = await client(http_session, fake).submit_extend(REQUEST)
    submit = await fake.wait_for_submit()
    assert submit.task_id == task_id
    assert submit.json == {
        "prompt": "[Verse]\nla la",
        "tags": "dream pop",
        "title": "Echoes",
        "continue_clip_id": REQUEST.clip_id,
        "continue_at": 65.5,
    }
    assert fake.continue_at_types == ["float"]
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_prompt_is_sent_when_there_are_no_lyrics(fake: FakeSunoApi, http_session: aiohttp.ClientSession) -> None:
    request = ExtendRequest(clip_id=REQUEST.clip_id, continue_at=30, prompt="a sad waltz")
    await client(http_session, fake).submit_extend(request)
    submit = await fake.wait_for_submit()
    assert submit.json == {"prompt": "a sad waltz", "continue_clip_id": REQUEST.clip_id, "continue_at": 30}


async def test_polling_walks_the_statuses_to_final_clips(
    fake: FakeSunoApi, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(REQUEST)
    states = []
    while True:
        (task,) = await provider.fetch([task_id])
        states.append((task.raw_status, task.state))
        if task.state is ProviderState.SUCCEEDED:
            break
    assert states == [
        ("submitted", ProviderState.QUEUED),
        ("queued", ProviderState.QUEUED),
        ("streaming", ProviderState.RUNNING),
        ("complete", ProviderState.SUCCEEDED),
    ]
    assert len(task.clips) == 2
    for clip in task.clips:
        assert clip.audio_url == fake.audio_url(clip.id)
        assert clip.image_url and clip.image_url.startswith(fake.base_url)
        assert clip.title == "Echoes"
        assert clip.duration and clip.duration > 0


async def test_legacy_clip_id_field(http_session: aiohttp.ClientSession) -> None:
    async with FakeSunoApi(
        KEY,
        legacy_clip_ids=True,
        script=["complete"],
        submit_interval=0,
        poll_per_second=None,
        clips=[CLIP],
    ) as fake:
        provider = client(http_session, fake)
        (task,) = await provider.fetch([await provider.submit_extend(REQUEST)])
        assert task.state is ProviderState.SUCCEEDED
        assert all(clip.id and clip.audio_url == fake.audio_url(clip.id) for clip in task.clips)


async def test_failure_at_the_provider(fake: FakeSunoApi, http_session: aiohttp.ClientSession) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(REQUEST)
    fake.fail(task_id, "lyrics flagged by moderation")
    (task,) = await provider.fetch([task_id])
    assert (task.state, task.error) == (ProviderState.FAILED, "lyrics flagged by moderation")


async def test_unknown_task_keeps_polling(fake: FakeSunoApi, http_session: aiohttp.ClientSession) -> None:
    (task,) = await client(http_session, fake).fetch(["no-such-task"])
    assert task.state is ProviderState.UNKNOWN


async def test_bad_key_is_an_auth_error_and_never_leaks(fake: FakeSunoApi, http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderAuthError) as caught:
        await client(http_session, fake, key="wrong-key-123").submit_extend(REQUEST)
    assert "wrong-key-123" not in str(caught.value)
    assert not caught.value.retryable
    assert fake.submits == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 200, "body": {"code": 400, "message": "continue_at is beyond the clip"}}, ProviderRejected),
        ({"status": 200, "body": {"code": 429, "message": "Too many requests"}}, ProviderRateLimited),
        ({"status": 429, "body": {"code": 429, "message": "Too many requests"}}, ProviderRateLimited),
        ({"status": 502, "body": "Bad Gateway"}, ProviderUnavailable),
        ({"status": 200, "raw": b"{not json"}, ProviderUnavailable),
        ({"status": 200, "raw": b"[]"}, ProviderAnswerMalformed),  # may have been accepted: never resent
        ({"status": 200, "body": {"code": 500, "message": "internal"}}, ProviderUnavailable),
        ({"reset_connection": True}, ProviderUnavailable),
    ],
)
async def test_submit_faults_map_to_errors(
    fake: FakeSunoApi, http_session: aiohttp.ClientSession, fault: dict[str, object], error: type[Exception]
) -> None:
    fake.inject("/extend-music", **fault)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        await client(http_session, fake).submit_extend(REQUEST)
    if error is ProviderRejected:
        assert "continue_at is beyond the clip" in str(caught.value)
    assert fake.submits == []


async def test_timeout_is_transient(fake: FakeSunoApi, http_session: aiohttp.ClientSession) -> None:
    fake.inject("/get-task", status=None, delay=2.0)
    provider = client(http_session, fake, timeout=aiohttp.ClientTimeout(total=0.2))
    with pytest.raises(ProviderUnavailable, match="in time"):
        await provider.fetch(["any"])


async def test_client_never_exceeds_the_documented_limits(
    fake: FakeSunoApi, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)

    async def paced_submit() -> str:
        async with provider.submit_slot():
            return await provider.submit_extend(REQUEST)

    task_ids = await asyncio.gather(*(paced_submit() for _ in range(4)))
    await asyncio.gather(*(provider.fetch([task_id]) for task_id in task_ids * 3))
    assert len(fake.submits) == 4 and len(fake.polls) == 12
    assert fake.rate_limit_violations == []
    submit_times = [submit.time for submit in fake.submits]
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(submit_times))
