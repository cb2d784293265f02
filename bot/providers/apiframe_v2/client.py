"""apiframe v2 (`/v2/music/generate`, `/v2/music/suno/action`, `/v2/jobs/:id`, `/v2/me`): judged by HTTP status."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState, ProviderTask
from bot.providers import answers
from bot.providers.apiframe_v2.capabilities import CAPABILITIES, DEFAULT_MODEL
from bot.providers.apiframe_v2.jobs import error_message, read_job
from bot.providers.apiframe_v2.webhook import ApiframeV2Webhook
from bot.providers.base import DEFAULT_TIMEOUT, Provider, optional_fields
from bot.providers.errors import AnswerCodes, ProviderAnswerMalformed, ProviderRejected, answer_error
from bot.providers.webhooks import WebhookRoute

# 401 is a missing or wrong key, 403 an inactive one (429 and 5xx are judged before the body is read).
CODES = AnswerCodes(auth=frozenset({401, 403}))
# What a refusal means to the member, where the body's own words would not say it plainly.
REFUSALS = {
    402: "apiframe v2 has no credits left for this: the server's operator needs to top them up",
    409: "the continue point is past the end of that track: pick an earlier `at`",
}


class ApiframeV2Provider(Provider):
    """Client of apiframe's v2 API; with an HTTPS webhook URL, each job's end is pushed (signed) to Encore."""

    name = "apiframe_v2"
    capabilities = CAPABILITIES
    batch_size = 1
    # Its 503 is "the queue is down": refused before anything was made (safe to send elsewhere).
    http_codes = AnswerCodes(auth=frozenset(), unavailable=frozenset({503}))

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str,
        *,
        webhook_url: str | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        """`webhook_url` is sent only when it is HTTPS, as apiframe requires; otherwise Encore polls."""
        super().__init__(session, base_url, key, timeout=timeout)
        https = webhook_url is not None and urllib.parse.urlsplit(webhook_url).scheme == "https"
        self._webhook = {"webhookUrl": webhook_url} if https else {}

    def _headers(self) -> Mapping[str, str]:
        return {"X-API-Key": self._key}

    def webhook_routes(self) -> tuple[WebhookRoute, ...]:
        return (ApiframeV2Webhook(self._key),) if self._webhook else ()

    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        """Custom mode when lyrics are given (`prompt` is then sung); a description of at most 500 otherwise."""
        custom = bool(request.lyrics)
        suno = optional_fields(
            custom_mode=custom,
            instrumental=request.instrumental,
            model_version=request.model or DEFAULT_MODEL,
            title=request.title,
            style=request.style,
        )
        body = {"prompt": request.lyrics if custom else request.prompt, "model": "suno", "sunoParams": suno}
        return await self._submitted("/v2/music/generate", {**body, **self._webhook})

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        """The `extend` action on the job that made the song, naming the track; the model is the parent's own."""
        if request.parent_task_id is None or request.clip_id is None:
            raise ProviderRejected("apiframe v2 extends a song by the job that made it and the song's id")
        if not (math.isfinite(request.continue_at) and request.continue_at > 0):
            raise ProviderRejected("the continue point must be inside the song")
        body = optional_fields(
            parentJobId=request.parent_task_id,
            action="extend",
            trackId=request.clip_id,
            continueAt=request.continue_at,
            prompt=request.lyrics or request.prompt,
            title=request.title,
            style=request.style,
        )
        return await self._submitted("/v2/music/suno/action", {**body, **self._webhook})

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        """One `GET /v2/jobs/:id` per job; a job apiframe does not know (404) comes back UNKNOWN."""
        results = []
        for job_id in task_ids:
            status, data = await self._request("GET", f"/v2/jobs/{urllib.parse.quote(job_id, safe='')}")
            if status == 404:
                results.append(ProviderTask(job_id, ProviderState.UNKNOWN, raw_status="missing"))
                continue
            results.append(read_job(job_id, self._checked(status, data)))
        return results

    async def credits(self) -> int | None:
        """`GET /v2/me` → `credits` (the page shows the call, not the body: read as a whole number when there)."""
        data = self._checked(*await self._request("GET", "/v2/me"))
        credits = data.get("credits")
        if isinstance(credits, float) and credits.is_integer():
            credits = int(credits)
        return answers.credits(credits)

    async def _submitted(self, path: str, body: Mapping[str, Any]) -> str:
        """POST and read the accepted job's `jobId` (HTTP 202)."""
        return answers.accepted_task_id(self._checked(*await self._post(path, body)), "apiframe v2", "request", "jobId")

    @staticmethod
    def _checked(status: int, data: Any) -> dict[str, Any]:
        """A 2xx object, or the refusal its status means (`error` says why). A success whose body is not a JSON
        object is unreadable, not a refusal: the submission it answers may have been accepted (and charged)."""
        if status >= 300:
            detail = REFUSALS.get(status) or error_message(data) or f"apiframe v2 refused the request (HTTP {status})"
            raise answer_error("apiframe v2", status, detail, CODES)
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise ProviderAnswerMalformed(f"apiframe v2 sent a {kind}, not a JSON object (HTTP {status})")
        return data
