"""apiframe (`suno-extend`, `suno-imagine`, `fetch`, `fetch-many`): judged by HTTP status, polled in batches of 20."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.domain.models import Clip, ExtendRequest, GenerateRequest, ProviderState, ProviderTask, Upload
from bot.providers import answers
from bot.providers.base import (
    DEFAULT_TIMEOUT,
    Provider,
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderRejected,
    optional_fields,
)

# Where Encore's receiver takes apiframe's webhook calls, below PUBLIC_WEBHOOK_URL.
APIFRAME_WEBHOOK_PATH = "/webhooks/apiframe"
# apiframe fetches up to 10 MB for an upload, so it gets longer than the JSON calls' 30 s.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=180, connect=10)
STATES: dict[str, ProviderState] = {
    "pending": ProviderState.QUEUED,
    "staged": ProviderState.QUEUED,
    "retry": ProviderState.QUEUED,
    "retrying": ProviderState.QUEUED,
    "starting": ProviderState.RUNNING,
    "processing": ProviderState.RUNNING,
    "finished": ProviderState.SUCCEEDED,
    "failed": ProviderState.FAILED,
}


class ApiframeProvider(Provider):
    """Client of apiframe's Suno API."""

    name = "apiframe"
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

    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": self._key}

    async def submit_extend(self, request: ExtendRequest) -> str:
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

    async def submit_generate(self, request: GenerateRequest) -> str:
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
                return [_read_task(task_ids[0], await self._call("/fetch", {"task_id": task_ids[0]}))]
            except ProviderRejected:
                return [ProviderTask(task_ids[0], ProviderState.UNKNOWN, raw_status="missing")]
        answer = await self._call("/fetch-many", {"task_ids": list(task_ids)})
        found = answer.get("tasks")
        if not isinstance(found, list):
            raise ProviderAnswerMalformed("apiframe's fetch-many answer has no list of tasks")
        by_id: dict[str, ProviderTask] = {}
        for entry in found:
            task_id = entry.get("task_id") if isinstance(entry, dict) else None
            if isinstance(task_id, str) and task_id in task_ids and task_id not in by_id:
                by_id[task_id] = _read_task(task_id, entry)
        return [
            by_id.get(task_id) or ProviderTask(task_id, ProviderState.UNKNOWN, raw_status="missing")
            for task_id in task_ids
        ]

    async def credits(self) -> int | None:
        """`GET /account` → `credits`; None when the answer has no whole, non-negative number there."""
        data = self._checked(*await self._request("GET", "/account"))
        credits = data.get("credits")
        valid = isinstance(credits, int) and not isinstance(credits, bool) and 0 <= credits < 10**15
        return credits if valid else None

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
        """apiframe's answer judged by HTTP status: 401 is the key, other 4xx say why in the body."""
        if status == 401:
            raise ProviderAuthError("apiframe refused the API key (HTTP 401)")
        if status >= 400 or not isinstance(data, dict):
            raise ProviderRejected(_error_message(data) or f"apiframe refused the request (HTTP {status})")
        return data


def parse_task(data: Any) -> ProviderTask:
    """Map a fetch answer (also the body of a webhook call).

    Raises `ProviderAnswerMalformed` for an answer that breaks the rules in `bot.providers.answers`.
    """
    data = answers.mapping(data, "task")
    task_id = answers.identifier(data, "task_id")
    if task_id is None:
        raise ProviderAnswerMalformed("the task has no task_id")
    raw_status = answers.status(data)
    state = STATES.get(raw_status, ProviderState.UNKNOWN)
    clips = answers.unique(parse_song(song) for song in answers.objects(data, "songs"))
    progress = answers.percentage(data.get("percentage"))
    unusable = state is ProviderState.SUCCEEDED and not any(clip.audio_url for clip in clips)
    if unusable:
        state = ProviderState.FAILED
    fallback = answers.NO_USABLE_SONG if unusable else "Suno reported a failure"
    error = (_error_message(data) or fallback) if state is ProviderState.FAILED else None
    return ProviderTask(
        task_id=task_id,
        state=state,
        raw_status=raw_status or "unknown",
        progress=progress,
        clips=tuple(clip for clip in clips if clip.audio_url) if state is ProviderState.SUCCEEDED else clips,
        error=error,
    )


def _read_task(task_id: str, data: Mapping[str, Any]) -> ProviderTask:
    """The answer about `task_id`; an unreadable one (or one about another task) is reported for that task alone."""
    try:
        task = parse_task(data)
        if task.task_id != task_id:
            raise ProviderAnswerMalformed("the answer is about another task")
    except ProviderAnswerMalformed as error:
        return ProviderTask(task_id, ProviderState.UNKNOWN, raw_status="malformed", malformed=error.message)
    return task


def parse_song(data: Mapping[str, Any]) -> Clip | None:
    """One song, or None when it has no `song_id` (it cannot be stored or linked). apiframe sends no title or length."""
    song_id = answers.identifier(data, "song_id")
    if song_id is None:
        return None
    return Clip(id=song_id, audio_url=answers.url(data, "audio_url"), image_url=answers.url(data, "image_url"))


def _error_message(data: Any) -> str | None:
    """The reason in a refusal or a failure: `errors[0].msg`, else `message` or `error` (its SDK reads those)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    return answers.reason(first, "msg") or answers.reason(data, "message", "error")
