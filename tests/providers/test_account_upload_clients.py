"""`credits()` and `upload_audio()` of the real provider clients against the provider fakes."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from bot.domain.models import ExtendRequest, ProviderState
from bot.providers import ApiframeProvider, ProviderAuthError, ProviderRejected, RateLimiter, SunoApiProvider
from tests.fakes.providers import FakeApiframe, FakeSunoApi

KEY = "account-secret-key"


async def test_apiframe_credits_come_from_get_account(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY, credits=730) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        assert await provider.credits() == 730
        (call,) = fake.calls("/account")
        assert call.method == "GET" and call.headers["authorization"] == KEY
        with pytest.raises(ProviderAuthError):
            await ApiframeProvider(http_session, fake.base_url, "wrong-key").credits()


async def test_sunoapi_documents_no_credits_and_is_not_asked(http_session: aiohttp.ClientSession) -> None:
    async with FakeSunoApi(KEY) as fake:
        provider = SunoApiProvider(
            http_session, fake.base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter.per_second(20)
        )
        assert await provider.credits() is None
        assert not provider.capabilities.uploads
        with pytest.raises(ProviderRejected, match="cannot extend uploaded audio"):
            await provider.upload_audio("https://cdn.example/unused.mp3")
        assert fake.requests == []


async def test_apiframe_upload_by_url_then_extend_the_upload(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY, credits=100) as fake:
        track = fake.cdn_bytes("a member's demo")
        public_url = fake.audio_url("a member's demo")  # stands in for a Discord attachment's CDN URL
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        upload = await provider.upload_audio(public_url)
        (call,) = fake.calls("/suno-upload")
        assert call.json == {"audio_url": public_url} and call.headers["content-type"].startswith("application/json")
        assert upload.task_id is not None
        task = fake.tasks[upload.task_id]
        assert task.kind == "upload" and task.request == {"audio_url": public_url, "size": len(track)}
        assert task.clip_ids == [upload.song_id] and upload.audio_url == public_url
        assert fake.credits == 100 and fake.submits == []

        request = ExtendRequest(
            clip_id=None,
            continue_at=12.5,
            parent_task_id=upload.task_id,
            upload_song_id=upload.song_id,
            prompt="a chorus",
            model="V4_5",
        )
        extend_id = await provider.submit_extend(request)
        submit = await fake.wait_for_submit()
        assert submit.json == {
            "song_id": upload.song_id,
            "from_upload": True,
            "continue_at": 12.5,
            "prompt": "a chorus",
            "model": "V4_5",
        }
        fake.finish(extend_id)
        (result,) = await provider.fetch([extend_id])
        assert result.state is ProviderState.SUCCEEDED


async def test_apiframe_extend_of_an_upload_needs_the_song_of_an_upload(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        request = ExtendRequest(clip_id=None, continue_at=5.0, upload_song_id=str(uuid.uuid4()))
        with pytest.raises(ProviderRejected, match="not an uploaded audio"):
            await provider.submit_extend(request)


async def test_apiframe_upload_endpoints_refuse_the_wrong_body(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY) as fake:
        form = aiohttp.FormData()
        form.add_field("audio", b"ID3", filename="a.mp3")
        headers = {"Authorization": KEY}
        async with http_session.post(f"{fake.base_url}/suno-upload", data=form, headers=headers) as response:
            assert response.status == 400 and "JSON" in (await response.json())["errors"][0]["msg"]
        json_body = {"audio": "x"}
        async with http_session.post(f"{fake.base_url}/upload-audio", json=json_body, headers=headers) as response:
            assert response.status == 400


async def test_apiframe_upload_refusal_carries_the_reason(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY, audio_size=10 * 1024 * 1024 + 1) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        with pytest.raises(ProviderRejected, match="at most 10 MB"):
            await provider.upload_audio(fake.audio_url("big"))
        with pytest.raises(ProviderRejected, match="could not be downloaded"):
            await provider.upload_audio(f"{fake.base_url}/nothing-here.mp3")
