"""apiframe (`suno-extend`, `suno-imagine`, `fetch`, `fetch-many`): judged by HTTP status, polled in batches of 20."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState, ProviderTask, Upload
from bot.providers import answers
from bot.providers.apiframe.capabilities import CAPABILITIES
from bot.providers.apiframe.tasks import error_message, read_task
from bot.providers.apiframe.webhook import ApiframeWebhook
from bot.providers.base import DEFAULT_TIMEOUT, Provider, optional_fields
from bot.providers.errors import AnswerCodes, ProviderAnswerMalformed, ProviderRejected, answer_error
from bot.providers.webhooks import WebhookRoute

# apiframe judges by HTTP status: 401 is the key (429 and 5xx are judged before the body is read).
CODES = AnswerCodes(auth=frozenset({401}))
# apiframe fetches up to 10 MB for an upload, so it gets longer than the JSON calls' 30 s.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=180, connect=10)


class ApiframeProvider(Provider):
    """Client of apiframe's Suno API."""

    name = "apiframe"
    capabilities = CAPABILITIES
    batch_size = 20

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(session, base_url, key, timeout=timeout)
        # Sent with every submission, so apiframe POSTs each task's updates to Encore's webhook receiver.
        self._webhook = optional_fields(webhook_url=webhook_url, webhook_secret=webhook_secret)
        self._webhook_secret = webhook_secret

    def webhook_routes(self) -> tuple[WebhookRoute, ...]:
        return (ApiframeWebhook(self._webhook_secret),) if self._webhook_secret else ()

    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": self._key}

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        """A generated song is named by its task and song; an upload by the upload's song and `from_upload`."""
        upload = request.upload_song_id is not None
        body = optional_fields(
            parent_task_id=None if upload else request.parent_task_id,
            song_id=request.upload_song_id if upload else request.clip_id,
            from_upload=True if upload else None,
            continue_at=request.continue_at,
            prompt=request.prompt,
            lyrics=request.lyrics,
            model=request.model,
            title=request.title,
            tags=request.style,
        )
        data = await self._call("/suno-extend", {**body, **self._webhook})
        return answers.accepted_task_id(data, self.name, "extend")

    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        body = optional_fields(
            prompt=request.prompt,
            lyrics=request.lyrics,
            model=request.model,
            make_instrumental=request.instrumental or None,
            title=request.title,
            tags=request.style,
        )
        data = await self._call("/suno-imagine", {**body, **self._webhook})
        return answers.accepted_task_id(data, self.name, "new song")

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        """`/fetch` for one task, `/fetch-many` for more; an unreadable task is reported alone (`malformed`)."""
        if len(task_ids) == 1:
            try:
                return [read_task(task_ids[0], await self._call("/fetch", {"task_id": task_ids[0]}))]
            except ProviderRejected:
                return [ProviderTask(task_ids[0], ProviderState.UNKNOWN, raw_status="missing")]
            except ProviderAnswerMalformed as error:
                return [answers.unreadable(task_ids[0], error)]
        answer = await self._call("/fetch-many", {"task_ids": list(task_ids)})
        found = answer.get("tasks")
        if not isinstance(found, list):
            raise ProviderAnswerMalformed("apiframe's fetch-many answer has no list of tasks")
        by_id: dict[str, ProviderTask] = {}
        for entry in found:
            task_id = entry.get("task_id") if isinstance(entry, dict) else None
            if isinstance(task_id, str) and task_id in task_ids and task_id not in by_id:
                by_id[task_id] = read_task(task_id, entry)
        return [
            by_id.get(task_id) or ProviderTask(task_id, ProviderState.UNKNOWN, raw_status="missing")
            for task_id in task_ids
        ]

    async def credits(self) -> int | None:
        """`GET /account` → `credits`; None when the answer has no whole, non-negative number there."""
        data = self._checked(*await self._request("GET", "/account"))
        return answers.credits(data.get("credits"))

    async def upload_audio(self, audio_url: str) -> Upload:
        """`POST /suno-upload` with the track's public URL (free): apiframe fetches it and makes a song of it.

        A member's Discord attachment already has such a URL, so Encore never needs apiframe's media upload
        (`/upload-audio`, for files with no public URL).
        """
        data = self._checked(*await self._post("/suno-upload", {"audio_url": audio_url}, client_timeout=UPLOAD_TIMEOUT))
        task_id = answers.accepted_task_id(data, self.name, "upload")
        song_id = answers.identifier(data, "song_id")
        if song_id is None:
            raise ProviderAnswerMalformed("apiframe accepted the upload but sent no song_id")
        return Upload(task_id=task_id, song_id=song_id, audio_url=answers.url(data, "audio_url") or audio_url)

    async def _call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._checked(*await self._post(path, body))

    @staticmethod
    def _checked(status: int, data: Any) -> dict[str, Any]:
        """apiframe's answer judged by HTTP status: 401 is the key, other 4xx say why in the body.

        A success whose body is not a JSON object is unreadable, not a refusal: a submission it answers may have
        been accepted (and charged), and a task it tells about is neither missing nor refused.
        """
        if status >= 400:
            detail = error_message(data) or f"apiframe refused the request (HTTP {status})"
            raise answer_error("apiframe", status, detail, CODES)
        if not isinstance(data, dict):
            raise ProviderAnswerMalformed(f"apiframe sent a {type(data).__name__}, not a JSON object (HTTP {status})")
        return data
