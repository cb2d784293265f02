"""The real suno-api client against a strict local fake of a self-hosted gcui-art/suno-api."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState
from bot.providers import ProviderAuthError, ProviderRejected, ProviderUnavailable, SunoApiSelfHostedProvider
from bot.providers.suno_api import clip_ids_of, fold
from tests.fakes.suno_api import FakeSunoApiSelfHosted

SOURCE = str(uuid.uuid4())


@pytest.fixture
async def fake() -> AsyncIterator[FakeSunoApiSelfHosted]:
    async with FakeSunoApiSelfHosted(credits=100) as server:
        server.seed_clip(SOURCE, model="chirp-crow", duration=150.0)
        yield server


async def test_an_extend_is_named_by_its_clips_and_polled_by_them(
    fake: FakeSunoApiSelfHosted, http_session: aiohttp.ClientSession
) -> None:
    provider = SunoApiSelfHostedProvider(http_session, fake.base_url)
    request = ExtendRequest(SOURCE, 65.5, lyrics="la la", style="pop", title="Up", model="chirp-crow")
    task_id = await provider.submit_extend(request)
    submit = await fake.wait_for_submit()
    assert submit.path == "/api/extend_audio" and task_id == submit.task_id and len(clip_ids_of(task_id)) == 2
    assert submit.json == {
        "audio_id": SOURCE,
        "prompt": "la la",
        "continue_at": 65.5,
        "tags": "pop",
        "title": "Up",
        "model": "chirp-crow",
        "wait_audio": False,
    }
    assert "authorization" not in fake.requests[0].headers  # no key: suno-api checks nothing
    states = [(await provider.fetch([task_id]))[0] for _ in range(4)]
    assert [s.state for s in states] == [
        ProviderState.QUEUED,
        ProviderState.QUEUED,
        ProviderState.RUNNING,
        ProviderState.SUCCEEDED,
    ]
    assert all(clip.audio_url and "/cdn/stream/" in clip.audio_url for clip in states[2].clips)
    assert [clip.id for clip in states[-1].clips] == clip_ids_of(task_id)
    assert all(clip.audio_url and clip.audio_url.endswith(".mp3") for clip in states[-1].clips)


async def test_a_batch_of_tasks_is_one_request_and_each_task_is_folded_from_its_own_clips(
    fake: FakeSunoApiSelfHosted, http_session: aiohttp.ClientSession
) -> None:
    provider = SunoApiSelfHostedProvider(http_session, fake.base_url)
    first = await provider.submit_generate(GenerateRequest(prompt="a sea shanty"))
    second = await provider.submit_generate(GenerateRequest(lyrics="[Verse]\nhi", style="folk", title="T"))
    assert [s.path for s in fake.submits] == ["/api/generate", "/api/custom_generate"]
    assert fake.submits[0].json == {
        "prompt": "a sea shanty",
        "make_instrumental": False,
        "model": "chirp-fenix",
        "wait_audio": False,
    }
    fake.finish(first)
    fake.fail(second, "Suno moderated the lyrics")
    done, failed, gone = await provider.fetch([first, second, f"{uuid.uuid4()},{uuid.uuid4()}"])
    assert len(fake.calls("/api/get")) == 1
    assert done.state is ProviderState.SUCCEEDED and len(done.clips) == 2
    assert (failed.state, failed.error) == (ProviderState.FAILED, "Suno moderated the lyrics")
    assert (gone.state, gone.raw_status) == (ProviderState.UNKNOWN, "missing")


async def test_a_description_takes_no_style_and_nothing_is_sent(
    fake: FakeSunoApiSelfHosted, http_session: aiohttp.ClientSession
) -> None:
    provider = SunoApiSelfHostedProvider(http_session, fake.base_url)
    with pytest.raises(ProviderRejected, match="picks the style and title itself"):
        await provider.submit_generate(GenerateRequest(prompt="rain", style="pop"))
    with pytest.raises(ProviderRejected, match="uploaded audio"):
        await provider.submit_extend(ExtendRequest(None, 30.0, lyrics="x"))
    assert fake.requests == []


async def test_limits_the_proxy_key_and_refusals() -> None:
    async with FakeSunoApiSelfHosted("proxy-key", credits=15) as fake, aiohttp.ClientSession() as session:
        with pytest.raises(ProviderAuthError):
            await SunoApiSelfHostedProvider(session, fake.base_url).credits()
        provider = SunoApiSelfHostedProvider(session, fake.base_url, "proxy-key")
        assert await provider.credits() == 15
        assert fake.requests[-1].headers["authorization"] == "Bearer proxy-key"
        await provider.submit_generate(GenerateRequest(prompt="one"))
        with pytest.raises(ProviderRejected, match="no credits left"):
            await provider.submit_generate(GenerateRequest(prompt="two"))
        with pytest.raises(ProviderRejected, match="not a finished clip of this account"):
            await provider.submit_extend(ExtendRequest(str(uuid.uuid4()), 30.0, lyrics="x"))
        fake.suno_down = True
        with pytest.raises(ProviderUnavailable):
            await provider.credits()


def test_clips_fold_into_one_task() -> None:
    ids = "a,b"
    streaming = {"id": "a", "status": "streaming", "audio_url": "https://cdn.example/a"}
    complete = {"id": "b", "status": "complete", "audio_url": "https://cdn.example/b.mp3", "duration": 120.5}
    assert fold(ids, {"a": streaming, "b": complete}).state is ProviderState.RUNNING
    half = fold(ids, {"a": {"id": "a", "status": "error", "error_message": "x"}, "b": complete})
    assert half.state is ProviderState.SUCCEEDED and [clip.id for clip in half.clips] == ["b"]
    assert fold(ids, {"b": complete}).state is ProviderState.RUNNING  # a clip not returned yet
    broken = fold(ids, {"a": {**streaming, "audio_url": 5}, "b": complete})
    assert broken.state is ProviderState.UNKNOWN and broken.malformed
