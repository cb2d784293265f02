"""`submit_generate` of both real provider clients against the provider fakes: documented fields, task ids, errors."""

from __future__ import annotations

import aiohttp
import pytest

from bot.domain.models import GenerateRequest, ProviderState
from bot.providers import ApiframeProvider, ProviderRejected, RateLimiter, SunoApiProvider
from tests.fakes.providers import FakeApiframe, FakeSunoApi

KEY = "generate-secret-key"


async def test_apiframe_generate_posts_to_suno_imagine(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        request = GenerateRequest(prompt="sea shanty", style="folk", title="Tide", instrumental=True, model="V4_5")
        task_id = await provider.submit_generate(request)
        submit = await fake.wait_for_submit()
        assert (submit.task_id, submit.path) == (task_id, "/suno-imagine")
        assert submit.json == {
            "prompt": "sea shanty",
            "model": "V4_5",
            "make_instrumental": True,
            "title": "Tide",
            "tags": "folk",
        }
        fake.finish(task_id)
        (task,) = await provider.fetch([task_id])
        assert task.state is ProviderState.SUCCEEDED and len(task.clips) == 2


async def test_apiframe_generate_without_instrumental_leaves_the_flag_out(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        await provider.submit_generate(GenerateRequest(lyrics="yo ho", model="V5"))
        assert (await fake.wait_for_submit()).json == {"lyrics": "yo ho", "model": "V5"}


async def test_apiframe_generate_refusal_carries_the_providers_reason(http_session: aiohttp.ClientSession) -> None:
    async with FakeApiframe(KEY, credits=5) as fake:
        provider = ApiframeProvider(http_session, fake.base_url, KEY)
        with pytest.raises(ProviderRejected, match="Not enough credits"):
            await provider.submit_generate(GenerateRequest(prompt="x", model="V4"))


async def test_sunoapi_generate_posts_to_generate_music(http_session: aiohttp.ClientSession) -> None:
    async with FakeSunoApi(KEY, submit_interval=0.2) as fake:
        provider = SunoApiProvider(
            http_session, fake.base_url, KEY, submit_limiter=RateLimiter(1, 0.2), poll_limiter=RateLimiter(2, 1)
        )
        async with provider.submit_slot():
            task_id = await provider.submit_generate(GenerateRequest(lyrics="[Verse]\nhello", style="folk", title="Hi"))
        submit = await fake.wait_for_submit()
        assert (submit.task_id, submit.path) == (task_id, "/suno/music/generate-music")
        assert submit.json == {"prompt": "[Verse]\nhello", "tags": "folk", "title": "Hi"}
        async with provider.submit_slot():  # the extend's window: one submission per interval
            second = await provider.submit_generate(GenerateRequest(prompt="a waltz"))
        assert second != task_id
        assert fake.rate_limit_violations == []
