"""apiframe (`suno-extend`, `suno-imagine`, `fetch`, `fetch-many`): judged by HTTP status, polled in batches of 20."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bot.domain.models import Clip, ExtendRequest, GenerateRequest, ProviderState, ProviderTask
from bot.providers.base import (
    DEFAULT_TIMEOUT,
    Provider,
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
    optional_fields,
)

# Where Encore's receiver takes apiframe's webhook calls, below PUBLIC_WEBHOOK_URL.
APIFRAME_WEBHOOK_PATH = "/webhooks/apiframe"
# An upload carries up to 10 MB, so it gets longer than the JSON calls' 30 s.
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
        body = optional_fields(
            parent_task_id=request.parent_task_id,
            song_id=request.clip_id,
            continue_at=request.continue_at,
            prompt=request.prompt,
            lyrics=request.lyrics,
            model=request.model,
            title=request.title,
            tags=request.style,
        )
        data = await self._call("/suno-extend", {**body, **self._webhook})
        return self._accepted_task_id(data, "extend")

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
        return self._accepted_task_id(data, "new song")

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        if len(task_ids) == 1:
            try:
                found = [await self._call("/fetch", {"task_id": task_ids[0]})]
            except ProviderRejected:
                found = []
        else:
            answer = await self._call("/fetch-many", {"task_ids": list(task_ids)})
            found = [task for task in answer.get("tasks") or [] if isinstance(task, dict)]
        by_id = {str(task.get("task_id")): parse_task(task) for task in found}
        return [
            by_id.get(task_id) or ProviderTask(task_id, ProviderState.UNKNOWN, raw_status="missing")
            for task_id in task_ids
        ]

    async def credits(self) -> int | None:
        """`GET /account` → `credits`; None when the answer has no number there."""
        data = self._checked(*await self._request("GET", "/account"))
        credits = data.get("credits")
        return credits if isinstance(credits, int) and not isinstance(credits, bool) else None

    async def upload_audio(self, path: Path, filename: str) -> tuple[str, str]:
        """`POST /suno-upload` with the file as multipart field `audio`, streamed from disk (free, but slow)."""
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with path.open("rb") as audio:
            form = aiohttp.FormData()
            form.add_field("audio", audio, filename=filename, content_type=content_type)
            answer = await self._request("POST", "/suno-upload", form=form, client_timeout=UPLOAD_TIMEOUT)
        data = self._checked(*answer)
        task_id, audio_url = data.get("task_id"), data.get("audio_url")
        if not isinstance(task_id, str) or not task_id:
            raise ProviderUnavailable("apiframe accepted the upload but sent no task_id")
        return task_id, audio_url if isinstance(audio_url, str) else ""

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


def parse_task(data: Mapping[str, Any]) -> ProviderTask:
    """Map a fetch answer (also the body of a webhook call)."""
    raw_status = str(data.get("status") or "").lower()
    state = STATES.get(raw_status, ProviderState.UNKNOWN)
    clips = tuple(
        Clip(
            id=str(song.get("song_id") or ""),
            audio_url=song.get("audio_url") or None,
            image_url=song.get("image_url") or None,
        )
        for song in data.get("songs") or []
        if isinstance(song, dict)
    )
    if state is ProviderState.SUCCEEDED and not any(clip.audio_url for clip in clips):
        state = ProviderState.FAILED
    error = (_error_message(data) or "Suno reported a failure") if state is ProviderState.FAILED else None
    return ProviderTask(
        task_id=str(data.get("task_id") or ""),
        state=state,
        raw_status=raw_status or "unknown",
        progress=parse_percentage(data.get("percentage")),
        clips=tuple(clip for clip in clips if clip.audio_url) if state is ProviderState.SUCCEEDED else clips,
        error=error,
    )


def parse_percentage(value: Any) -> int | None:
    """`56`, `56.0` or `"56%"` → 56; anything else → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (match := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", value)):
        number = float(match.group(1))
    else:
        return None
    return max(0, min(100, int(number)))


def _error_message(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("msg"):
        return str(errors[0]["msg"])
    for key in ("message", "error"):
        if data.get(key):
            return str(data[key])
    return None
