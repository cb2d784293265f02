"""`credits()` and `upload_audio()` of the real provider clients against the provider fakes."""

from __future__ import annotations

from pathlib import Path

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
        assert not provider.supports_uploads
        with pytest.raises(ProviderRejected, match="cannot extend uploaded audio"):
            await provider.upload_audio(Path("unused.mp3"), "unused.mp3")
        assert fake.requests == []


async def test_apiframe_upload_then_extend_the_upload(http_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    track = tmp_path / "demo.mp3"
    track.write_bytes(b"ID3" + bytes(range(256)) * 400)
    async with FakeApiframe(KEY, credits=100) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        task_id, audio_url = await provider.upload_audio(track, "my-demo.mp3")
        upload = fake.tasks[task_id]
        assert upload.kind == "upload" and upload.request == {"filename": "my-demo.mp3", "size": track.stat().st_size}
        async with http_session.get(audio_url) as response:
            assert await response.read() == track.read_bytes()
        assert fake.credits == 100 and fake.submits == []

        extend_id = await provider.submit_extend(
            ExtendRequest(clip_id=None, continue_at=12.5, parent_task_id=task_id, prompt="a chorus", model="V4_5")
        )
        submit = await fake.wait_for_submit()
        assert submit.json == {"parent_task_id": task_id, "continue_at": 12.5, "prompt": "a chorus", "model": "V4_5"}
        fake.finish(extend_id)
        (task,) = await provider.fetch([extend_id])
        assert task.state is ProviderState.SUCCEEDED


async def test_apiframe_upload_refusal_carries_the_reason(http_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    track = tmp_path / "big.wav"
    track.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    async with FakeApiframe(KEY) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        with pytest.raises(ProviderRejected, match="at most 10 MB"):
            await provider.upload_audio(track, "big.wav")
