"""The apiframe v2 fake is as strict as the contract it stands for: raw requests, the statuses it answers, and the
signature on the webhooks it sends."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.apiframe_v2 import FakeApiframeV2
from tests.support.webhooks import webhook_receiver

KEY = "afk_fake-key"


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiframeV2]:
    async with FakeApiframeV2(KEY, credits=100) as server:
        yield server


async def call(
    fake: FakeApiframeV2, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    method = "POST" if body is not None else "GET"
    sent = {"X-API-Key": KEY} if headers is None else headers
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.base_url + path, json=body, headers=sent) as r,
    ):
        return r.status, await r.json()


def extend(parent: str, **change: Any) -> dict[str, Any]:
    return {"parentJobId": parent, "action": "extend", "index": 1, "continueAt": 30, "prompt": "la", **change}


async def test_the_key_is_checked_first(fake: FakeApiframeV2) -> None:
    assert await call(fake, "/v2/me", headers={}) == (401, {"error": "API key is required"})
    assert await call(fake, "/v2/me", headers={"X-API-Key": "afk_other"}) == (401, {"error": "Invalid API key"})
    assert await call(fake, "/v2/me", headers={"Authorization": f"Bearer {KEY}"}) == (
        401,
        {"error": "API key is required"},
    )
    fake.inactive = True
    assert (await call(fake, "/v2/me"))[0] == 403
    fake.inactive = False
    assert await call(fake, "/v2/me") == (200, {"email": "operator@example.com", "credits": 100, "plan": "pro"})


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model": "V5"}, "model must be suno"),
        ({"prompt": ""}, "prompt is required"),
        ({"prompt": "p" * 501}, "at most 500"),
        ({"sunoParams": {"custom_mode": True, "model_version": "V3_5"}}, "model_version must be one of"),
        ({"sunoParams": {"custom_mode": "true"}}, "custom_mode must be a boolean"),
        ({"sunoParams": {"custom_mode": True, "title": "t" * 81}}, "title must be at most 80"),
        ({"sunoParams": {"custom_mode": True, "style": "s" * 1001}}, "style must be at most 1000"),
        ({"sunoParams": {"model": "V5"}}, "Unknown field: model"),
        ({"webhookUrl": "http://encore.example/webhooks"}, "HTTPS"),
        ({"webhookEvents": ["done"]}, "webhookEvents"),
        ({"callBackUrl": "https://x.example"}, "Unknown field: callBackUrl"),
    ],
)
async def test_a_generate_that_breaks_the_contract_is_refused_before_any_credit_is_spent(
    fake: FakeApiframeV2, change: dict[str, Any], fragment: str
) -> None:
    body = {"prompt": "a sea shanty", "model": "suno", "sunoParams": {"custom_mode": False}, **change}
    status, answer = await call(fake, "/v2/music/generate", body)
    assert status == 400 and fragment in answer["error"]
    assert fake.submits == [] and fake.credits == 100


async def test_lyrics_in_custom_mode_take_5000_characters_and_cost_11_credits(fake: FakeApiframeV2) -> None:
    body = {"prompt": "l" * 5000, "model": "suno", "sunoParams": {"custom_mode": True, "title": "T"}}
    status, answer = await call(fake, "/v2/music/generate", body)
    assert status == 202 and answer == {"jobId": fake.submits[0].task_id, "status": "QUEUED"}
    assert fake.credits == 89
    status, job = await call(fake, f"/v2/jobs/{answer['jobId']}")
    assert status == 200 and job["status"] == "QUEUED" and job["result"] is None
    assert set(job) == {
        "id",
        "status",
        "model",
        "progress",
        "result",
        "error",
        "creditCost",
        "webhookStatus",
        "createdAt",
        "completedAt",
    }
    assert await call(fake, "/v2/jobs/no-such-job") == (404, {"error": "Job not found"})


async def test_the_extend_action_names_a_completed_job_and_one_track_inside_it(fake: FakeApiframeV2) -> None:
    parent = fake.seed_job(model="V5", durations=(120.0, 90.0))
    running = (await call(fake, "/v2/music/generate", {"prompt": "x", "model": "suno"}))[1]["jobId"]
    assert await call(fake, "/v2/music/suno/action", extend("unknown")) == (404, {"error": "Parent job not found"})
    assert (await call(fake, "/v2/music/suno/action", extend(running)))[0] == 400
    both = extend(parent.task_id, trackId=parent.clip_ids[0])
    assert await call(fake, "/v2/music/suno/action", both) == (400, {"error": "Give exactly one of index or trackId"})
    assert (await call(fake, "/v2/music/suno/action", extend(parent.task_id, index=3)))[0] == 400
    foreign = {**extend(parent.task_id), "trackId": "another-track"}
    del foreign["index"]
    assert (await call(fake, "/v2/music/suno/action", foreign))[0] == 400
    assert (await call(fake, "/v2/music/suno/action", extend(parent.task_id, continueAt="30")))[0] == 400
    assert (await call(fake, "/v2/music/suno/action", extend(parent.task_id, model_version="V5")))[0] == 400
    status, answer = await call(fake, "/v2/music/suno/action", extend(parent.task_id, index=2, continueAt=90))
    assert status == 409 and "past the end" in answer["error"]
    assert fake.credits == 89  # only the generate was charged
    status, answer = await call(fake, "/v2/music/suno/action", extend(parent.task_id, index=2, continueAt=89.9))
    assert status == 202 and fake.credits == 78


async def test_no_credits_is_402_and_a_failed_job_refunds(fake: FakeApiframeV2) -> None:
    fake.credits = 11
    first = (await call(fake, "/v2/music/generate", {"prompt": "x", "model": "suno"}))[1]["jobId"]
    status, answer = await call(fake, "/v2/music/generate", {"prompt": "y", "model": "suno"})
    assert (status, answer) == (402, {"error": "Insufficient credits"})
    fake.fail(first, "Suno refused the lyrics")
    job = (await call(fake, f"/v2/jobs/{first}"))[1]
    assert (job["status"], job["error"], fake.credits) == ("FAILED", "Suno refused the lyrics", 11)


async def test_webhooks_are_signed_with_the_hmac_of_the_raw_body_under_the_sha256_of_the_key(
    fake: FakeApiframeV2,
) -> None:
    async with webhook_receiver() as (url, received):
        fake.route_webhooks("https://encore.example", url.removesuffix("/hook"))
        body = {
            "prompt": "x",
            "model": "suno",
            "webhookUrl": "https://encore.example/hook",
            "webhookEvents": ["progress", "completed"],
        }
        job_id = (await call(fake, "/v2/music/generate", body))[1]["jobId"]
        fake.advance(job_id)
        fake.advance(job_id)
        await fake.wait_for_webhook(job_id)
        await fake.wait_for_webhook(job_id)
    key = hashlib.sha256(KEY.encode()).hexdigest().encode()
    events = []
    for post in received:
        assert post.headers["x-webhook-signature"] == hmac.new(key, post.raw, hashlib.sha256).hexdigest()
        events.append(post.headers["x-webhook-event"])
    assert events == ["progress", "completed"]
