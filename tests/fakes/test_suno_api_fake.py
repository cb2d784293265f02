"""The suno-api fake is as strict as the instance it stands for: raw requests, `{"error"}` answers, clips as handles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.suno_api import FakeSunoApiSelfHosted

SOURCE = str(uuid.uuid4())
EXTEND = {"audio_id": SOURCE, "prompt": "la", "continue_at": 30, "tags": "pop", "title": "Up", "model": "chirp-crow"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSunoApiSelfHosted]:
    async with FakeSunoApiSelfHosted(credits=30) as server:
        server.seed_clip(SOURCE, model="chirp-crow", duration=120.0)
        yield server


async def call(
    fake: FakeSunoApiSelfHosted, path: str, body: dict[str, Any] | None = None, key: str | None = None
) -> tuple[int, Any]:
    method = "POST" if body is not None else "GET"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.base_url + path, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"audio_id": None}, "Audio ID is required"),
        ({"audio_id": str(uuid.uuid4())}, "not a finished clip"),
        ({"continue_at": "0:30"}, "continue_at"),
        ({"continue_at": 120}, "below 120"),
        ({"model": "V5"}, "Unknown model"),
        ({"tags": "t" * 1001}, "tags must be at most 1000"),
        ({"continueAt": 30}, "Unknown field: continueAt"),
        ({"wait_audio": "false"}, "wait_audio must be a boolean"),
    ],
)
async def test_an_extend_that_breaks_the_contract_is_refused(
    fake: FakeSunoApiSelfHosted, change: dict[str, Any], fragment: str
) -> None:
    body = {key: value for key, value in {**EXTEND, **change}.items() if value is not None}
    status, answer = await call(fake, "/api/extend_audio", body)
    assert status == 400 and fragment in answer["error"]
    assert fake.submits == [] and fake.credits == 30


async def test_a_submission_answers_two_clips_which_are_then_polled_by_their_ids(fake: FakeSunoApiSelfHosted) -> None:
    status, clips = await call(fake, "/api/extend_audio", EXTEND)
    assert status == 200 and [clip["status"] for clip in clips] == ["submitted", "submitted"]
    ids = [clip["id"] for clip in clips]
    assert fake.submits[0].task_id == ",".join(ids) and fake.credits == 20
    statuses = []
    for _ in range(4):
        status, polled = await call(fake, f"/api/get?ids={ids[0]},{ids[1]},{uuid.uuid4()}")
        assert status == 200 and [clip["id"] for clip in polled] == ids  # an unknown id is left out
        statuses.append(polled[0]["status"])
    assert statuses == ["submitted", "queued", "streaming", "complete"]
    assert polled[0]["audio_url"].endswith(".mp3") and polled[0]["duration"] > 0


async def test_modes_and_models(fake: FakeSunoApiSelfHosted) -> None:
    described = await call(fake, "/api/generate", {"prompt": "rain", "tags": "pop"})
    assert described == (400, {"error": "Unknown field: tags"})
    assert (await call(fake, "/api/generate", {"prompt": "p" * 501}))[0] == 400
    older = {"prompt": "l" * 3001, "tags": "folk", "title": "T", "model": "chirp-v4"}
    assert (await call(fake, "/api/custom_generate", older))[0] == 400
    assert (await call(fake, "/api/custom_generate", {**older, "model": "chirp-fenix"}))[0] == 200
    assert (await call(fake, "/api/custom_generate", {"make_instrumental": True, "tags": "ambient"}))[0] == 200


async def test_credits_limits_the_proxy_and_an_unreachable_suno() -> None:
    async with FakeSunoApiSelfHosted("proxy-key", credits=10) as fake:
        assert await call(fake, "/api/get_limit") == (401, {"error": "Unauthorized"})
        limit = await call(fake, "/api/get_limit", key="proxy-key")
        assert limit == (200, {"credits_left": 10, "period": "month", "monthly_limit": 2500, "monthly_usage": 2490})
        assert (await call(fake, "/api/generate", {"prompt": "a"}, key="proxy-key"))[0] == 200
        assert await call(fake, "/api/generate", {"prompt": "b"}, key="proxy-key") == (
            402,
            {"error": "Insufficient credits"},
        )
        fake.suno_down = True
        assert await call(fake, "/api/get_limit", key="proxy-key") == (503, {"error": "Suno is unreachable"})


async def test_concat_joins_an_extension_s_chain_into_a_new_clip(fake: FakeSunoApiSelfHosted) -> None:
    extension = (await call(fake, "/api/extend_audio", EXTEND))[1][0]["id"]
    assert (await call(fake, "/api/concat", {"clip_id": SOURCE}))[0] == 400
    status, whole = await call(fake, "/api/concat", {"clip_id": extension})
    assert status == 200 and whole["status"] == "submitted"
    assert whole["concat_history"] == [{"id": SOURCE, "continue_at": 30.0}, {"id": extension, "continue_at": None}]
