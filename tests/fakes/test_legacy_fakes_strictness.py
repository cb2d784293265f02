"""The sunoapi.co and apiframe (v1) fakes are as strict as the contracts they stand for: raw requests, raw answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.providers import FakeApiframe, FakeSunoApi

KEY = "fake-key"
CLIP = str(uuid.uuid4())
PARENT = str(uuid.uuid4())
SONG = str(uuid.uuid4())
SUNOAPI_EXTEND = {"prompt": "la la", "tags": "pop", "title": "Up", "continue_clip_id": CLIP, "continue_at": 30}
APIFRAME_EXTEND = {"parent_task_id": PARENT, "song_id": SONG, "continue_at": 30.5, "lyrics": "la", "model": "V4"}
APIFRAME_IMAGINE = {"prompt": "a waltz", "model": "V4_5", "make_instrumental": False, "title": "W", "tags": "waltz"}


@pytest.fixture
async def sunoapi() -> AsyncIterator[FakeSunoApi]:
    async with FakeSunoApi(KEY, submit_interval=0.0) as server:
        server.seed_clip(CLIP, duration=120.0)
        yield server


@pytest.fixture
async def apiframe() -> AsyncIterator[FakeApiframe]:
    async with FakeApiframe(KEY) as server:
        server.seed_task(PARENT, songs=[SONG, str(uuid.uuid4())])
        yield server


async def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def sunoapi_call(fake: FakeSunoApi, path: str, body: Any) -> dict[str, Any]:
    status, answer = await post(f"{fake.base_url}/suno/music/{path}", body, {"Authorization": f"Bearer {KEY}"})
    assert status == 200  # sunoapi.co is judged by `code`
    assert isinstance(answer, dict)
    return answer


async def apiframe_call(fake: FakeApiframe, path: str, body: Any) -> tuple[int, Any]:
    return await post(f"{fake.base_url}/{path}", body, {"Authorization": KEY})


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"prompt": 5, "bogus": 1, "title": ["x"]}, "Unknown field: bogus"),
        ({"bogus": 1}, "Unknown field: bogus"),
        ({"prompt": 5}, "prompt is required"),
        ({"prompt": "  "}, "prompt is required"),
        ({"title": ["x"]}, "title must be a string"),
        ({"tags": 7}, "tags must be a string"),
        ({"continue_at": "30"}, "continue_at"),
        ({"continue_at": True}, "continue_at"),
        ({"continue_at": -1}, "continue_at"),
        ({"continue_at": 120}, "below the clip's duration"),
        ({"continue_clip_id": 5}, "continue_clip_id is required"),
        ({"continue_clip_id": str(uuid.uuid4())}, "continue_clip_id not found"),
        ({"is_custom": "true"}, "is_custom must be a boolean"),
        ({"model": "V4"}, "model must be v3.5"),
        ({"title": "t" * 81}, "title must be at most 80"),
        ({"tags": "s" * 201}, "tags must be at most 200"),
        ({"prompt": "l" * 3001}, "prompt must be at most 3000"),
    ],
)
async def test_a_sunoapi_extend_that_breaks_the_contract_is_refused_with_a_code(
    sunoapi: FakeSunoApi, change: dict[str, Any], fragment: str
) -> None:
    answer = await sunoapi_call(sunoapi, "extend-music", {**SUNOAPI_EXTEND, **change})
    assert answer["code"] != 200 and fragment in answer["message"] and "task_id" not in answer
    assert sunoapi.tasks == {} and sunoapi.credits == 1000


@pytest.mark.parametrize("missing", ["prompt", "continue_clip_id", "continue_at"])
async def test_sunoapi_extend_requires_its_three_fields(sunoapi: FakeSunoApi, missing: str) -> None:
    body = {key: value for key, value in SUNOAPI_EXTEND.items() if key != missing}
    answer = await sunoapi_call(sunoapi, "extend-music", body)
    assert answer["code"] == 400 and f"{missing} is required" in answer["message"]


async def test_sunoapi_extends_a_seeded_or_own_clip_and_charges_credits(sunoapi: FakeSunoApi) -> None:
    seeded = await sunoapi_call(sunoapi, "extend-music", {**SUNOAPI_EXTEND, "is_custom": True, "model": "v3.5"})
    assert seeded["code"] == 200 and sunoapi.credits == 990
    own_clip = sunoapi.tasks[seeded["task_id"]].clip_ids[0]
    own = await sunoapi_call(sunoapi, "extend-music", {**SUNOAPI_EXTEND, "continue_clip_id": own_clip})
    assert own["code"] == 200
    generated = await sunoapi_call(sunoapi, "generate-music", {"prompt": "rain", "title": "R"})
    assert generated["code"] == 200 and sunoapi.credits == 970
    extend_only = await sunoapi_call(sunoapi, "generate-music", {"prompt": "rain", "continue_at": 3})
    assert extend_only["code"] == 400 and "Unknown field: continue_at" in extend_only["message"]
    polled = await sunoapi_call(sunoapi, "get-task", {"task_id": own["task_id"], "extra": 1})
    assert polled["code"] == 400 and "Unknown field: extra" in polled["message"]
    not_an_object = await sunoapi_call(sunoapi, "get-task", [own["task_id"]])
    assert not_an_object["code"] == 400 and "JSON object" in not_an_object["message"]


async def test_sunoapi_holds_continue_at_below_the_end_of_its_own_finished_clip(sunoapi: FakeSunoApi) -> None:
    made = await sunoapi_call(sunoapi, "generate-music", {"prompt": "rain"})
    sunoapi.finish(made["task_id"])
    clip = (await sunoapi_call(sunoapi, "get-task", {"task_id": made["task_id"]}))["clips"][0]
    end = float(clip["duration"])
    extend = {**SUNOAPI_EXTEND, "continue_clip_id": clip["continue_clip_id"]}
    past = await sunoapi_call(sunoapi, "extend-music", {**extend, "continue_at": end})
    assert past["code"] == 400 and "below the clip's duration" in past["message"]
    assert (await sunoapi_call(sunoapi, "extend-music", {**extend, "continue_at": end - 0.5}))["code"] == 200


async def test_sunoapi_refuses_a_submit_without_credits() -> None:
    async with FakeSunoApi(KEY, submit_interval=0.0, credits=15) as fake:
        fake.seed_clip(CLIP)
        assert (await sunoapi_call(fake, "extend-music", SUNOAPI_EXTEND))["code"] == 200
        broke = await sunoapi_call(fake, "extend-music", SUNOAPI_EXTEND)
        assert broke["code"] == 402 and "credits" in broke["message"].lower() and fake.credits == 5
        assert len(fake.tasks) == 1


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bogus": 1}, "Unknown field: bogus"),
        ({"make_instrumental": True}, "Unknown field: make_instrumental"),
        ({"continue_at": "30"}, "continue_at"),
        ({"continue_at": False}, "continue_at"),
        ({"song_id": 5}, "song_id must be a string"),
        ({"lyrics": ["la"]}, "lyrics must be a string"),
        ({"title": 1}, "title must be a string"),
        ({"webhook_url": 1}, "webhook_url must be a string"),
        ({"from_upload": "true"}, "from_upload must be a boolean"),
        ({"from_upload": False}, "from_upload must be true"),
        ({"parent_task_id": 7}, "parent_task_id is required"),
        ({"parent_task_id": str(uuid.uuid4())}, "parent task not found"),
        ({"song_id": str(uuid.uuid4())}, "not a song of the parent task"),
        ({"model": "V3_5"}, "model must be one of"),
        ({"title": "t" * 81}, "title must be at most 80"),
        ({"tags": "s" * 201}, "tags must be at most 200"),  # V4's limits
        ({"lyrics": "l" * 3001}, "lyrics must be at most 3000"),
        ({"model": "V5", "lyrics": "l" * 5001}, "lyrics must be at most 5000"),
        ({"prompt": "p" * 501}, "prompt must be at most 500"),
    ],
)
async def test_an_apiframe_extend_that_breaks_the_contract_is_refused(
    apiframe: FakeApiframe, change: dict[str, Any], fragment: str
) -> None:
    status, answer = await apiframe_call(apiframe, "suno-extend", {**APIFRAME_EXTEND, **change})
    assert status == 400 and fragment in answer["errors"][0]["msg"], answer
    assert len(apiframe.tasks) == 1 and apiframe.credits == 1000


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bogus": 1}, "Unknown field: bogus"),
        ({"parent_task_id": PARENT}, "Unknown field: parent_task_id"),
        ({"prompt": 5}, "prompt must be a string"),
        ({"prompt": " ", "lyrics": None}, "prompt or lyrics is required"),
        ({"make_instrumental": "yes"}, "make_instrumental must be a boolean"),
        ({"model": None}, "model is required"),
        ({"tags": ["pop"]}, "tags must be a string"),
        ({"tags": "s" * 1001}, "tags must be at most 1000"),
    ],
)
async def test_an_apiframe_imagine_that_breaks_the_contract_is_refused(
    apiframe: FakeApiframe, change: dict[str, Any], fragment: str
) -> None:
    status, answer = await apiframe_call(apiframe, "suno-imagine", {**APIFRAME_IMAGINE, **change})
    assert status == 400 and fragment in answer["errors"][0]["msg"], answer
    assert len(apiframe.tasks) == 1 and apiframe.credits == 1000


async def test_apiframe_takes_what_its_docs_allow(apiframe: FakeApiframe) -> None:
    status, answer = await apiframe_call(apiframe, "suno-extend", {**APIFRAME_EXTEND, "model": "chirp-crow"})
    assert status == 200 and answer["task_id"] in apiframe.tasks
    status, answer = await apiframe_call(apiframe, "suno-imagine", {"lyrics": "la la", "model": "V5"})
    assert status == 200 and apiframe.credits == 980
    status, answer = await apiframe_call(apiframe, "fetch", {"task_id": answer["task_id"], "extra": True})
    assert status == 400 and answer == {"errors": [{"msg": "Unknown field: extra"}]}
    status, answer = await apiframe_call(apiframe, "fetch-many", {"task_ids": [PARENT, PARENT], "x": 1})
    assert status == 400 and "Unknown field: x" in answer["errors"][0]["msg"]
