"""The sunoapi.org contract (`/api/v1/generate`, `/generate/extend`, `/generate/record-info`, `/generate/credit`),
as sunoapi.org and its resellers (kie.ai, api.box) serve it: judged by the `code` in the body, paced to its limits.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import aiohttp

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderTask, Upload
from bot.domain.pacing import Pacer
from bot.providers import answers
from bot.providers.base import DEFAULT_TIMEOUT, HTTP_CODES, PacedProvider, fetch_each, optional_fields
from bot.providers.errors import (
    AnswerCodes,
    ProviderAnswerMalformed,
    ProviderRejected,
    ProviderUnavailable,
    answer_error,
    as_code,
)
from bot.providers.sunoapi_org.callbacks import SunoApiOrgCallbacks, callback_path
from bot.providers.sunoapi_org.capabilities import CAPABILITIES, DEFAULT_MODEL
from bot.providers.sunoapi_org.tasks import parse_record
from bot.providers.webhooks import WebhookRoute

# sunoapi.org's codes: 405 and 430 say slow down, 429 is out of credits (a refusal), 455 maintenance.
SUNOAPI_ORG_CODES = AnswerCodes(auth=frozenset({401}), rate_limited=frozenset({405, 430}), unavailable=frozenset({455}))
# kie.ai's: 429 says slow down, 402 is out of credits.
KIE_CODES = AnswerCodes(auth=frozenset({401}), rate_limited=frozenset({429}), unavailable=frozenset({455}))
KIE_HOSTS = ("kie.ai",)
# `callBackUrl` is required; without a public receiver Encore polls, and names a URL nothing listens on.
NO_CALLBACK_URL = "https://localhost/encore-polls-instead"


def codes_for(base_url: str) -> AnswerCodes:
    """The vendor's code table, by the base URL's host: a 429 means "slow down" on kie.ai, "no credits" elsewhere."""
    host = (urllib.parse.urlsplit(base_url).hostname or "").lower()
    kie = any(host == vendor or host.endswith(f".{vendor}") for vendor in KIE_HOSTS)
    return KIE_CODES if kie else SUNOAPI_ORG_CODES


class SunoApiOrgProvider(PacedProvider):
    """Client of the sunoapi.org contract at a configurable base URL."""

    name = "sunoapi_org"
    capabilities = CAPABILITIES
    batch_size = 1
    # The `code` in the body decides, by the vendor's table, even under an HTTP 429: on sunoapi.org a 429 code
    # means out of credits, not slow down. Only 5xx is judged before the body.
    http_codes = AnswerCodes(auth=frozenset(), rate_limited=frozenset())

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str,
        *,
        submit_limiter: Pacer | None,
        poll_limiter: Pacer,
        public_url: str = "",
        callback_secret: str | None = None,
        codes: AnswerCodes | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        """`codes` is the vendor's code table; by default the one its base URL's host says (`codes_for`)."""
        super().__init__(
            session, base_url, key, submit_limiter=submit_limiter, poll_limiter=poll_limiter, timeout=timeout
        )
        self._codes = codes or codes_for(base_url)
        self._public_url = public_url.rstrip("/")
        self._callback_secret = callback_secret if public_url else None

    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    def webhook_routes(self) -> tuple[WebhookRoute, ...]:
        return (SunoApiOrgCallbacks(self._callback_secret),) if self._callback_secret else ()

    def callback_url(self, reference: int | None) -> str:
        """Task `reference`'s own callback URL; a URL nothing listens on when callbacks are off."""
        if self._callback_secret is None or reference is None:
            return NO_CALLBACK_URL
        return f"{self._public_url}{callback_path(self._callback_secret, reference)}"

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        """`defaultParamFlag: true` with Encore's fields: the source's model, the words sung next, style, title.

        A member's own track (no clip id) goes to `upload-extend` with its public URL, fetched by the provider.
        """
        fields = optional_fields(
            defaultParamFlag=True,
            model=request.model or DEFAULT_MODEL,
            callBackUrl=self.callback_url(reference),
            prompt=request.lyrics or request.prompt,
            style=request.style,
            title=request.title,
            continueAt=request.continue_at,
        )
        if request.clip_id is None:
            if not request.upload_url:
                raise ProviderRejected("an extend of an upload needs the track's URL")
            body = {"uploadUrl": request.upload_url, "instrumental": False, **fields}
            return await self._submitted("/api/v1/generate/upload-extend", body)
        return await self._submitted("/api/v1/generate/extend", {"audioId": request.clip_id, **fields})

    async def upload_audio(self, audio_url: str) -> Upload:
        """Nothing to send yet: `upload-extend` takes the track's public URL with the extend itself."""
        return Upload(task_id=None, song_id=None, audio_url=audio_url)

    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        """Custom mode for lyrics or a styled instrumental (`prompt` = the exact lyrics); a description otherwise."""
        custom = bool(request.lyrics) or (request.instrumental and bool(request.style))
        text = request.lyrics if custom else request.prompt
        body = optional_fields(
            customMode=custom,
            instrumental=request.instrumental,
            model=request.model or DEFAULT_MODEL,
            callBackUrl=self.callback_url(reference),
            prompt=text,
            style=request.style if custom else None,
            title=request.title if custom else None,
        )
        return await self._submitted("/api/v1/generate", body)

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        def record_info(task_id: str) -> Awaitable[dict[str, Any]]:
            path = f"/api/v1/generate/record-info?taskId={urllib.parse.quote(task_id, safe='')}"
            return self._call("GET", path, None, self.poll_limiter)

        return await fetch_each(task_ids, record_info, parse_record)

    async def credits(self) -> int | None:
        """`GET /api/v1/generate/credit` → `data`; None when it is not a whole, non-negative number."""
        return answers.credits((await self._call("GET", "/api/v1/generate/credit", None, None)).get("data"))

    async def _submitted(self, path: str, body: Mapping[str, Any]) -> str:
        """Submit (the caller holds the submit slot already) and read `data.taskId`."""
        answer = await self._call("POST", path, body, self.submit_limiter, paced=False)
        try:
            task_id = answers.identifier(answers.mapping(answer.get("data"), "answer's data"), "taskId")
        except ProviderAnswerMalformed:
            task_id = None
        if task_id is None:
            raise ProviderAnswerMalformed(f"{self.name} accepted the request but sent no usable taskId")
        return task_id

    async def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None, limiter: Pacer | None, *, paced: bool = True
    ) -> dict[str, Any]:
        """Send and check `code`: 200 is success; anything else is mapped by the vendor's code table."""
        status, answer = await self._request(method, path, json_body=body, limiter=limiter, paced=paced)
        code = as_code(answer.get("code")) if isinstance(answer, dict) else None
        if code == 200 and isinstance(answer, dict):
            return answer
        endpoint = path.split("?")[0]
        if code is None and status != 200:  # nothing in the body to judge by: the HTTP status says what happened
            await self._refused(answer_error(self.name, status, f"HTTP {status} on {endpoint}", HTTP_CODES), limiter)
        if not isinstance(answer, dict):
            raise ProviderUnavailable(f"{self.name} sent an unexpected answer on {endpoint}")
        detail = answers.reason(answer, "msg") or f"code {code}"
        await self._refused(answer_error(self.name, code, detail, self._codes), limiter)
