"""A self-hosted gcui-art/suno-api (`/api/extend_audio`, `/api/custom_generate`, `/api/generate`, `/api/get`,
`/api/get_limit`): judged by HTTP status, errors as `{"error": …}`."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderTask
from bot.providers import answers
from bot.providers.base import DEFAULT_TIMEOUT, Provider, optional_fields
from bot.providers.errors import AnswerCodes, ProviderAnswerMalformed, ProviderRejected, answer_error
from bot.providers.suno_api.capabilities import CAPABILITIES, DEFAULT_MODEL
from bot.providers.suno_api.clips import SEPARATOR, clip_ids_of, fold, submitted_clips, task_id_of

# 401 and 403 come from an operator's proxy in front (suno-api itself checks nothing); 402 is Suno's "no credits".
CODES = AnswerCodes(auth=frozenset({401, 403}))
REFUSALS = {402: "the Suno account behind suno-api has no credits left: the server's operator needs to top it up"}
# Each submission solves Suno's hCaptcha in a headless browser first: tens of seconds are normal.
SUBMIT_TIMEOUT = aiohttp.ClientTimeout(total=180, connect=10)


class SunoApiSelfHostedProvider(Provider):
    """Client of a self-hosted suno-api; `SUNO_API_KEY`, when set, goes to a proxy in front as a Bearer token."""

    name = "suno_api"
    # Its 503 says Suno itself is unreachable: nothing was made (safe to send elsewhere).
    http_codes = AnswerCodes(auth=frozenset(), unavailable=frozenset({503}))
    capabilities = CAPABILITIES
    # `/api/get?ids=` reads any number of clips in one call: 10 tasks (20 clips) per poll.
    batch_size = 10

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str = "",
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(session, base_url, key, timeout=timeout)

    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        """`extend_audio` of the clip from `continue_at` (a number of seconds, passed through to Suno)."""
        if request.clip_id is None:
            raise ProviderRejected("suno-api extends Suno songs only, not uploaded audio")
        body = optional_fields(
            audio_id=request.clip_id,
            prompt=request.lyrics or request.prompt,
            continue_at=request.continue_at,
            tags=request.style,
            title=request.title,
            model=request.model or DEFAULT_MODEL,
            wait_audio=False,
        )
        return await self._submitted("/api/extend_audio", body)

    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        """Lyrics go to `custom_generate` with style and title; a description to `generate`, which takes neither."""
        model = request.model or DEFAULT_MODEL
        if request.lyrics:
            body = optional_fields(
                prompt=request.lyrics,
                tags=request.style,
                title=request.title,
                make_instrumental=request.instrumental,
                model=model,
                wait_audio=False,
            )
            return await self._submitted("/api/custom_generate", body)
        if request.style or request.title:
            raise ProviderRejected(
                "suno-api picks the style and title itself for a song from a `prompt`: leave `style` and `title` "
                "out, or give `lyrics` instead"
            )
        described = {"prompt": request.prompt, "make_instrumental": request.instrumental, "model": model}
        return await self._submitted("/api/generate", {**described, "wait_audio": False})

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        """One `GET /api/get?ids=` for every clip of the batch's tasks, folded back into each task."""
        wanted = [clip_id for task_id in task_ids for clip_id in clip_ids_of(task_id)]
        query = urllib.parse.quote(SEPARATOR.join(wanted), safe=SEPARATOR)
        data = self._checked(*await self._request("GET", f"/api/get?ids={query}"))
        if not isinstance(data, list):
            raise ProviderAnswerMalformed("suno-api's /api/get answer is not a list of clips")
        found: dict[str, Mapping[str, Any]] = {}
        for clip in data:
            clip_id = clip.get("id") if isinstance(clip, dict) else None
            if isinstance(clip_id, str) and clip_id in wanted and clip_id not in found:
                found[clip_id] = clip
        return [fold(task_id, found) for task_id in task_ids]

    async def credits(self) -> int | None:
        """`GET /api/get_limit` → `credits_left` of the Suno account behind the instance."""
        data = self._checked(*await self._request("GET", "/api/get_limit"))
        return answers.credits(data.get("credits_left") if isinstance(data, dict) else None)

    async def _submitted(self, path: str, body: Mapping[str, Any]) -> str:
        """POST (with the captcha's patience) and name the task by the clips it made."""
        return task_id_of(submitted_clips(self._checked(*await self._post(path, body, client_timeout=SUBMIT_TIMEOUT))))

    @staticmethod
    def _checked(status: int, data: Any) -> Any:
        """A 2xx answer, or the refusal its status means (`error` says why)."""
        if status >= 300:
            detail = REFUSALS.get(status) or answers.reason(data, "error") or f"suno-api refused (HTTP {status})"
            raise answer_error("suno-api", status, detail, CODES)
        return data
