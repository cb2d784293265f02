"""The real apiframe v2 client against a strict local fake of v2: fields, job polling, refusals, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState
from bot.providers import (
    ApiframeV2Provider,
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderRejected,
    ProviderUnreachable,
)
from bot.providers.apiframe_v2 import WEBHOOK_PATH, ApiframeV2Webhook, parse_job, signing_key
from bot.providers.webhooks import WebhookUnauthorized
from tests.fakes.apiframe_v2 import FakeApiframeV2, signature

KEY = "afk_client-secret-key"
HOOK = f"https://encore.example{WEBHOOK_PATH}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiframeV2]:
    async with FakeApiframeV2(KEY, credits=200) as server:
        yield server


def extend(parent: str, track: str, **changes: Any) -> ExtendRequest:
    fields: dict[str, Any] = {"clip_id": track, "parent_task_id": parent, "continue_at": 65.5, "lyrics": "la la"}
    return ExtendRequest(**{**fields, **changes})


async def test_generate_sends_lyrics_in_custom_mode_and_a_description_otherwise(
    fake: FakeApiframeV2, http_session: aiohttp.ClientSession
) -> None:
    provider = ApiframeV2Provider(http_session, fake.base_url, KEY)
    job = await provider.submit_generate(
        GenerateRequest(lyrics="[Verse]\nhi", style="folk", title="Tide", model="V5_5")
    )
    submit = await fake.wait_for_submit()
    assert submit.task_id == job and submit.path == "/v2/music/generate"
    assert submit.json == {
        "prompt": "[Verse]\nhi",
        "model": "suno",
        "sunoParams": {
            "custom_mode": True,
            "instrumental": False,
            "model_version": "V5_5",
            "title": "Tide",
            "style": "folk",
        },
    }
    assert fake.calls("/v2/music/generate")[0].headers["x-api-key"] == KEY
    await provider.submit_generate(GenerateRequest(prompt="rain on glass", instrumental=True))
    described = (await fake.wait_for_submit()).json
    assert described["prompt"] == "rain on glass"
    assert described["sunoParams"] == {"custom_mode": False, "instrumental": True, "model_version": "V4_5PLUS"}


async def test_jobs_are_polled_to_completion_with_their_tracks(
    fake: FakeApiframeV2, http_session: aiohttp.ClientSession
) -> None:
    provider = ApiframeV2Provider(http_session, fake.base_url, KEY)
    job = await provider.submit_generate(GenerateRequest(prompt="a sea shanty"))
    states = [(await provider.fetch([job]))[0] for _ in range(3)]
    assert [(s.state, s.progress) for s in states] == [
        (ProviderState.QUEUED, 0),
        (ProviderState.RUNNING, 50),
        (ProviderState.SUCCEEDED, 100),
    ]
    clips = states[-1].clips
    assert [clip.id for clip in clips] == fake.tasks[job].clip_ids
    assert all(clip.audio_url and clip.duration and clip.duration >= 120 for clip in clips)
    (missing,) = await provider.fetch(["no-such-job"])
    assert (missing.state, missing.raw_status) == (ProviderState.UNKNOWN, "missing")


async def test_the_extend_action_names_the_parent_job_and_track_and_inherits_the_model(
    fake: FakeApiframeV2, http_session: aiohttp.ClientSession
) -> None:
    parent = fake.seed_job(model="V5", durations=(120.0, 100.0))
    provider = ApiframeV2Provider(http_session, fake.base_url, KEY)
    job = await provider.submit_extend(extend(parent.task_id, parent.clip_ids[1], style="pop", title="Up", model="V5"))
    submit = await fake.wait_for_submit()
    assert submit.task_id == job and submit.path == "/v2/music/suno/action"
    assert submit.json == {
        "parentJobId": parent.task_id,
        "action": "extend",
        "trackId": parent.clip_ids[1],
        "continueAt": 65.5,
        "prompt": "la la",
        "title": "Up",
        "style": "pop",
    }
    with pytest.raises(ProviderRejected, match="past the end of that track"):
        await provider.submit_extend(extend(parent.task_id, parent.clip_ids[1], continue_at=100.0))
    assert len(fake.submits) == 1 and fake.credits == 189


async def test_refusals_are_mapped_by_status(fake: FakeApiframeV2, http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderAuthError):
        await ApiframeV2Provider(http_session, fake.base_url, "afk_wrong").credits()
    fake.inactive = True
    with pytest.raises(ProviderAuthError):
        await ApiframeV2Provider(http_session, fake.base_url, KEY).credits()
    fake.inactive, fake.credits = False, 5
    provider = ApiframeV2Provider(http_session, fake.base_url, KEY)
    assert await provider.credits() == 5
    with pytest.raises(ProviderRejected, match="no credits left"):
        await provider.submit_generate(GenerateRequest(prompt="x"))
    with pytest.raises(ProviderRejected, match="prompt must be at most 500"):
        await provider.submit_generate(GenerateRequest(prompt="p" * 501))
    fake.inject("/v2/music/generate", status=503, body={"error": "queue down"})
    with pytest.raises(ProviderUnreachable):  # the queue is down: nothing was made, safe to send elsewhere
        await provider.submit_generate(GenerateRequest(prompt="x"))


async def test_a_webhook_url_is_sent_only_when_it_is_https(
    fake: FakeApiframeV2, http_session: aiohttp.ClientSession
) -> None:
    plain = ApiframeV2Provider(http_session, fake.base_url, KEY, webhook_url="http://encore.example/webhooks")
    assert plain.webhook_routes() == ()
    await plain.submit_generate(GenerateRequest(prompt="x"))
    assert "webhookUrl" not in (await fake.wait_for_submit()).json
    pushed = ApiframeV2Provider(http_session, fake.base_url, KEY, webhook_url=HOOK)
    (route,) = pushed.webhook_routes()
    assert route.path == WEBHOOK_PATH
    await pushed.submit_generate(GenerateRequest(prompt="x"))
    assert (await fake.wait_for_submit()).json["webhookUrl"] == HOOK


def test_the_webhook_checks_the_signature_of_the_raw_body_before_reading_it() -> None:
    route = ApiframeV2Webhook(KEY)
    assert signing_key(KEY) == hashlib.sha256(KEY.encode()).hexdigest().encode()
    body = json.dumps({"event": "failed", "jobId": "job-1", "status": "FAILED", "error": "no", "model": "suno"})
    raw = body.encode()
    good = [(b"X-Webhook-Signature", signature(KEY, raw).encode()), (b"X-Webhook-Event", b"failed")]
    assert route.authenticate({}, good) is None
    route.verify(raw, good)
    for headers in (
        [],
        [(b"X-Webhook-Signature", signature(KEY, raw).encode())] * 2,
        [(b"X-Webhook-Signature", signature(KEY, raw + b" ").encode())],
        [(b"X-Webhook-Signature", signature("afk_other", raw).encode())],
        [(b"X-Webhook-Signature", signature(KEY, raw).upper().encode())],
        [(b"X-Webhook-Signature", hmac.new(KEY.encode(), raw, hashlib.sha256).hexdigest().encode())],
        [(b"X-Webhook-Signature", b"\xff\xfe")],
    ):
        with pytest.raises(WebhookUnauthorized):
            route.authenticate({}, headers)
            route.verify(raw, headers)
    update = route.parse(json.loads(raw))
    assert (update.task_id, update.state, update.error) == ("job-1", ProviderState.FAILED, "no")


def test_job_answers_are_read_strictly() -> None:
    done = {"id": "j", "status": "COMPLETED", "result": {"tracks": [{"id": "t", "audioUrl": "ftp://x"}]}}
    with pytest.raises(ProviderAnswerMalformed, match="http"):
        parse_job(done)
    empty = parse_job({"id": "j", "status": "COMPLETED", "result": {"tracks": []}})
    assert empty.state is ProviderState.FAILED and empty.error == "Suno sent no audio"
    odd = parse_job({"id": "j", "status": "PAUSED", "progress": 30})
    assert (odd.state, odd.raw_status, odd.progress) == (ProviderState.UNKNOWN, "paused", 30)
    failed = parse_job({"id": "j", "status": "FAILED", "error": {"message": "moderated"}})
    assert failed.error == "moderated"
