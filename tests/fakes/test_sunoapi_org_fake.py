"""The sunoapi.org fake is as strict as the contract it stands for: raw requests, the codes it answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.sunoapi_org import FakeSunoApiOrg
from tests.support.webhooks import webhook_receiver

KEY = "fake-key"
SOURCE = str(uuid.uuid4())
EXTEND = {
    "defaultParamFlag": True,
    "audioId": SOURCE,
    "model": "V5",
    "callBackUrl": "https://example.invalid/cb",
    "prompt": "la",
    "style": "pop",
    "title": "Up",
    "continueAt": 30,
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSunoApiOrg]:
    async with FakeSunoApiOrg(KEY, submit_limit=10, submit_window=60.0) as server:
        server.seed_clip(SOURCE, model="V5", duration=120.0)
        yield server


async def call(fake: FakeSunoApiOrg, path: str, body: dict[str, Any] | None = None, key: str = KEY) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request("POST" if body is not None else "GET", fake.base_url + path, json=body, headers=headers) as r,
    ):
        assert r.status == 200  # judged by `code`
        return await r.json()


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"continueAt": "30"}, 400, "continueAt"),
        ({"continueAt": 120}, 400, "below 120"),
        ({"defaultParamFlag": "true"}, 400, "boolean"),
        ({"model": "V3_5"}, 400, "model must be one of"),
        ({"model": "V4"}, 400, "consistent with the source"),
        ({"style": "s" * 1001}, 413, "style is longer than 1000"),
        ({"title": None}, 400, "title is required"),
        ({"callBackUrl": "not a url"}, 400, "callBackUrl"),
        ({"tags": "pop"}, 400, "unknown parameter tags"),
    ],
)
async def test_an_extend_that_breaks_the_contract_is_refused(
    fake: FakeSunoApiOrg, change: dict[str, Any], code: int, fragment: str
) -> None:
    answer = await call(fake, "/api/v1/generate/extend", {**EXTEND, **change})
    assert answer["code"] == code and fragment in answer["msg"] and answer["data"] is None
    assert fake.submits == [] and fake.credits == 1000


async def test_modes_decide_what_is_required(fake: FakeSunoApiOrg) -> None:
    inherited = {"defaultParamFlag": False, "audioId": SOURCE, "model": "V5", "callBackUrl": "https://x.invalid/"}
    assert (await call(fake, "/api/v1/generate/extend", inherited))["code"] == 200
    base = {"instrumental": False, "model": "V5_5", "callBackUrl": "https://x.invalid/"}
    described = await call(fake, "/api/v1/generate", {**base, "customMode": False, "prompt": "p" * 501})
    assert described["code"] == 413
    styled = await call(fake, "/api/v1/generate", {**base, "customMode": False, "prompt": "rain", "style": "pop"})
    assert styled["code"] == 400 and "custom mode" in styled["msg"]
    custom = await call(fake, "/api/v1/generate", {**base, "customMode": True, "prompt": "la", "style": "pop"})
    assert custom["code"] == 400 and "title is required" in custom["msg"]


@pytest.mark.parametrize(("vendor", "rate_code"), [("sunoapi_org", 430), ("kie", 429)])
async def test_the_key_then_the_rate_limit_then_credits(vendor: Any, rate_code: int) -> None:
    async with FakeSunoApiOrg(KEY, vendor=vendor, submit_limit=2, submit_window=60.0, credits=12) as fake:
        fake.seed_clip(SOURCE, model="V5", duration=120.0)
        assert (await call(fake, "/api/v1/generate/extend", EXTEND, key="wrong"))["code"] == 401
        assert (await call(fake, "/api/v1/generate/extend", EXTEND))["code"] == 200
        broke = await call(fake, "/api/v1/generate/extend", EXTEND)
        assert broke["code"] == (429 if vendor == "sunoapi_org" else 402) and "credits" in broke["msg"]
        assert (await call(fake, "/api/v1/generate/extend", EXTEND))["code"] == rate_code
        assert len(fake.rate_limit_violations) == 1 and (await call(fake, "/api/v1/generate/credit"))["data"] == 0


async def test_record_info_is_limited_per_task_and_callbacks_are_unsigned_snake_case(fake: FakeSunoApiOrg) -> None:
    async with webhook_receiver() as (url, received):
        answer = await call(fake, "/api/v1/generate/extend", {**EXTEND, "callBackUrl": url})
        task_id = answer["data"]["taskId"]
        codes = [(await call(fake, f"/api/v1/generate/record-info?taskId={task_id}"))["code"] for _ in range(4)]
        assert codes == [200, 200, 200, 430]
        for _ in range(3):
            await fake.wait_for_callback(task_id)
    kinds = [post.json()["data"]["callbackType"] for post in received]
    assert kinds == ["text", "first", "complete"]
    complete = received[-1].json()
    assert not any(name.startswith(("x-", "authorization")) for name in received[-1].headers)  # nothing signed
    track = complete["data"]["data"][0]
    assert {"id", "audio_url", "stream_audio_url", "image_url", "model_name", "duration"} <= set(track)
    assert track["model_name"] == "V5" and isinstance(track["duration"], float)
