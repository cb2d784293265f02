"""The real sunoapi.org client against a strict local fake of the contract (sunoapi.org, kie.ai, api.box)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState
from bot.providers import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRejected,
    RateLimiter,
    SunoApiOrgProvider,
    WebhookUnauthorized,
)
from bot.providers.errors import AnswerCodes
from bot.providers.sunoapi_org import SunoApiOrgCallbacks, callback_path, codes_for, parse_callback
from bot.providers.sunoapi_org.client import KIE_CODES, NO_CALLBACK_URL, SUNOAPI_ORG_CODES
from tests.fakes.sunoapi_org import FakeSunoApiOrg

KEY = "sunoapi-org-secret-key"
SECRET = "the-install-secret"
PUBLIC = "https://encore.example"
SOURCE = str(uuid.uuid4())


def extend(**changes: Any) -> ExtendRequest:
    fields: dict[str, Any] = {
        "clip_id": SOURCE,
        "continue_at": 65.5,
        "lyrics": "[Verse]\nla la",
        "style": "dream pop",
        "title": "Echoes",
        "model": "V5",
    }
    return ExtendRequest(**{**fields, **changes})


@pytest.fixture
async def fake() -> AsyncIterator[FakeSunoApiOrg]:
    async with FakeSunoApiOrg(KEY, submit_limit=4, submit_window=0.5, polls_per_task=3, poll_window=1.0) as server:
        server.seed_clip(SOURCE, model="V5", duration=180.0)
        yield server


def client(
    session: aiohttp.ClientSession,
    fake: FakeSunoApiOrg,
    *,
    key: str = KEY,
    codes: AnswerCodes | None = None,
    submit_limiter: RateLimiter | None = None,
) -> SunoApiOrgProvider:
    return SunoApiOrgProvider(
        session,
        fake.base_url,
        key,
        submit_limiter=submit_limiter or RateLimiter(2, 0.25),
        poll_limiter=RateLimiter(3, 1.0),
        public_url=PUBLIC,
        callback_secret=SECRET,
        codes=codes,
    )


async def test_extend_sends_the_documented_fields_and_its_own_callback_url(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    task_id = await client(http_session, fake).submit_extend(extend(), reference=41)
    submit = await fake.wait_for_submit()
    assert submit.task_id == task_id and submit.path == "/api/v1/generate/extend"
    assert submit.json == {
        "defaultParamFlag": True,
        "audioId": SOURCE,
        "model": "V5",
        "callBackUrl": f"{PUBLIC}{callback_path(SECRET, 41)}",
        "prompt": "[Verse]\nla la",
        "style": "dream pop",
        "title": "Echoes",
        "continueAt": 65.5,
    }
    assert fake.continue_at_types == ["float"]
    other = callback_path(SECRET, 42)
    assert other != callback_path(SECRET, 41) and len(other.rsplit("/", 1)[1]) == 64


async def test_without_a_public_receiver_the_callback_url_is_one_nothing_listens_on(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    provider = SunoApiOrgProvider(
        http_session, fake.base_url, KEY, submit_limiter=None, poll_limiter=RateLimiter(3, 1.0), callback_secret=SECRET
    )
    await provider.submit_extend(extend(), reference=7)
    assert (await fake.wait_for_submit()).json["callBackUrl"] == NO_CALLBACK_URL
    assert provider.webhook_routes() == ()


async def test_the_contract_refuses_what_encore_must_never_send(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    with pytest.raises(ProviderRejected, match="consistent with the source"):
        await provider.submit_extend(extend(model="V5_5"))
    with pytest.raises(ProviderRejected, match="continueAt"):
        await provider.submit_extend(extend(continue_at=180.0))
    with pytest.raises(ProviderRejected, match="audioId not found"):
        await provider.submit_extend(extend(clip_id=str(uuid.uuid4())))
    with pytest.raises(ProviderRejected, match="style is longer than 200"):
        fake.seed_clip(SOURCE, model="V4", duration=180.0)
        await provider.submit_extend(extend(model="V4", style="x" * 201))
    assert fake.submits == []


async def test_generate_uses_custom_mode_for_lyrics_and_a_description_otherwise(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    await provider.submit_generate(GenerateRequest(lyrics="[Verse]\nhi", style="folk", title="Seed", model="V4_5"))
    await provider.submit_generate(GenerateRequest(prompt="a calm waltz about rain"), reference=3)
    await provider.submit_generate(GenerateRequest(style="ambient", title="Drift", instrumental=True))
    custom, description, instrumental = [submit.json for submit in fake.submits]
    assert {key: custom[key] for key in ("customMode", "instrumental", "model", "prompt", "style", "title")} == {
        "customMode": True,
        "instrumental": False,
        "model": "V4_5",
        "prompt": "[Verse]\nhi",
        "style": "folk",
        "title": "Seed",
    }
    assert description == {
        "customMode": False,
        "instrumental": False,
        "model": "V5_5",
        "callBackUrl": f"{PUBLIC}{callback_path(SECRET, 3)}",
        "prompt": "a calm waltz about rain",
    }
    assert instrumental["customMode"] is True and instrumental["instrumental"] is True and "prompt" not in instrumental


async def test_polling_follows_the_stages_and_delivers_only_final_audio(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(extend())
    states = []
    for _ in range(4):
        (task,) = await provider.fetch([task_id])
        states.append((task.state, task.raw_status, [clip.audio_url for clip in task.clips]))
    [first, second] = fake.tasks[task_id].clip_ids
    assert states == [
        (ProviderState.QUEUED, "pending", []),
        (ProviderState.RUNNING, "text_success", [fake.preview_url(first), fake.preview_url(second)]),
        (ProviderState.RUNNING, "first_success", [fake.audio_url(first), fake.preview_url(second)]),
        (ProviderState.SUCCEEDED, "success", [fake.audio_url(first), fake.audio_url(second)]),
    ]
    assert all(clip.duration and 120 <= clip.duration < 240 and clip.title == "Echoes" for clip in task.clips)


async def test_a_failed_task_says_why(fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(extend())
    fake.fail(task_id, "lyrics contain copyrighted text")
    (task,) = await provider.fetch([task_id])
    assert (task.state, task.error) == (ProviderState.FAILED, "lyrics contain copyrighted text")
    (unknown,) = await provider.fetch(["no-such-task"])
    assert unknown.state is ProviderState.UNKNOWN


async def test_an_unreadable_record_is_that_task_s_fault_alone(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)
    task_id = await provider.submit_extend(extend())
    fake.answer_raw(task_id, {"taskId": task_id, "status": "SUCCESS", "response": {"sunoData": 5}})
    (task,) = await provider.fetch([task_id])
    assert task.state is ProviderState.UNKNOWN and task.malformed


async def test_key_credits_and_refusals_map_to_errors(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderAuthError):
        await client(http_session, fake, key="wrong-key-000").submit_extend(extend())
    provider = client(http_session, fake)
    assert await provider.credits() == 1000
    fake.credits = 5
    with pytest.raises(ProviderRejected, match="Insufficient credits"):  # code 429 on sunoapi.org: not a rate limit
        await provider.submit_extend(extend())
    assert fake.submits == []


@pytest.mark.parametrize(("vendor", "codes"), [("sunoapi_org", SUNOAPI_ORG_CODES), ("kie", KIE_CODES)])
async def test_the_vendor_s_rate_limit_code_is_a_429_and_backs_the_pacer_off(
    http_session: aiohttp.ClientSession, vendor: Any, codes: AnswerCodes
) -> None:
    async with FakeSunoApiOrg(KEY, vendor=vendor, submit_limit=1, submit_window=30.0) as fake:
        fake.seed_clip(SOURCE, model="V5", duration=180.0)
        limiter = RateLimiter(5, 0.1)
        provider = client(http_session, fake, codes=codes, submit_limiter=limiter)
        await provider.submit_extend(extend())
        with pytest.raises(ProviderRateLimited, match="Call frequency too high"):
            await provider.submit_extend(extend())
        assert limiter.delay(asyncio.get_running_loop().time()) > 0  # every caller now waits
        assert len(fake.rate_limit_violations) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"code": 430, "msg": "Call frequency too high"}, ProviderRateLimited),
        ({"code": 429, "msg": "Insufficient credits"}, ProviderRejected),  # the body's code decides, not HTTP 429
        ({}, ProviderRateLimited),  # no code: the HTTP status says it
    ],
)
async def test_under_an_http_429_the_body_s_code_decides(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession, body: dict[str, Any], error: type[Exception]
) -> None:
    fake.inject("/generate/extend", status=429, body=body)
    with pytest.raises(error):
        await client(http_session, fake).submit_extend(extend())
    assert fake.submits == []


def test_the_vendor_is_read_from_the_base_url() -> None:
    assert codes_for("https://api.sunoapi.org") is SUNOAPI_ORG_CODES
    assert codes_for("https://api.api.box") is SUNOAPI_ORG_CODES
    assert codes_for("https://api.kie.ai") is KIE_CODES
    assert codes_for("https://kie.ai.evil.example") is SUNOAPI_ORG_CODES


async def test_paced_submissions_and_polls_stay_within_the_documented_limits(
    fake: FakeSunoApiOrg, http_session: aiohttp.ClientSession
) -> None:
    provider = client(http_session, fake)

    async def paced_submit() -> str:
        async with provider.submit_slot():
            return await provider.submit_extend(extend())

    task_ids = await asyncio.gather(*(paced_submit() for _ in range(10)))
    await asyncio.gather(*(provider.fetch([task_ids[0]]) for _ in range(6)))
    assert len(fake.submits) == 10 and len(fake.polls) == 6
    assert fake.rate_limit_violations == []


def test_a_callback_is_taken_only_at_its_own_task_s_url() -> None:
    route = SunoApiOrgCallbacks(SECRET)
    own = callback_path(SECRET, 41).rsplit("/", 2)
    assert route.authenticate({"task": own[1], "token": own[2]}, []) == 41
    for task, token in [("42", own[2]), ("41", own[2][:-1] + "0"), ("41", ""), ("x", own[2]), ("4" * 40, own[2])]:
        with pytest.raises(WebhookUnauthorized):
            route.authenticate({"task": task, "token": token}, [])
    other_install = callback_path("another-secret", 41).rsplit("/", 1)[1]
    with pytest.raises(WebhookUnauthorized):
        route.authenticate({"task": "41", "token": other_install}, [])


def test_callbacks_read_like_record_info() -> None:
    track = {"id": "c1", "audio_url": "https://cdn.example/c1.mp3", "duration": 181.5, "title": "T"}
    done = parse_callback(
        {"code": 200, "msg": "ok", "data": {"callbackType": "complete", "task_id": "t1", "data": [track]}}
    )
    assert (done.task_id, done.state, done.clips[0].duration) == ("t1", ProviderState.SUCCEEDED, 181.5)
    failed = parse_callback(
        {"code": 531, "msg": "failed and refunded", "data": {"callbackType": "error", "task_id": "t1"}}
    )
    assert (failed.state, failed.error) == (ProviderState.FAILED, "failed and refunded")
    empty = parse_callback({"code": 200, "data": {"callbackType": "complete", "task_id": "t1", "data": []}})
    assert empty.state is ProviderState.FAILED
