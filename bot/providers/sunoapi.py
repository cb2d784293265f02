"""sunoapi.co (`extend-music`, `generate-music`, `get-task`): judged by the `code` in the body, paced by its limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.domain.models import Clip, ExtendRequest, GenerateRequest, ProviderState, ProviderTask
from bot.domain.pacing import Pacer
from bot.providers.base import (
    DEFAULT_TIMEOUT,
    Provider,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    optional_fields,
)

STATES: dict[str, ProviderState] = {
    "submitted": ProviderState.QUEUED,
    "queued": ProviderState.QUEUED,
    "streaming": ProviderState.RUNNING,
    "complete": ProviderState.SUCCEEDED,
    "error": ProviderState.FAILED,
}


class SunoApiProvider(Provider):
    """Client of sunoapi.co (and its successor api.sunosay.com, same paths)."""

    name = "sunoapi"
    batch_size = 1

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str,
        *,
        submit_limiter: Pacer | None,
        poll_limiter: Pacer,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(session, base_url, key, timeout=timeout)
        self.submit_limiter = submit_limiter
        self.poll_limiter = poll_limiter

    @property
    def poll_budget(self) -> float:
        return self.poll_limiter.rate * self.batch_size

    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    async def submit_extend(self, request: ExtendRequest) -> str:
        body = optional_fields(
            prompt=request.lyrics or request.prompt,
            tags=request.style,
            title=request.title,
            continue_clip_id=request.clip_id,
            continue_at=request.continue_at,
        )
        data = await self._call("/suno/music/extend-music", body, self.submit_limiter, paced=False)
        return self._accepted_task_id(data, "extend")

    async def submit_generate(self, request: GenerateRequest) -> str:
        """`generate-music` shares the extend's submit window (one per 4 s), so it takes the same limiter."""
        body = optional_fields(prompt=request.lyrics or request.prompt, tags=request.style, title=request.title)
        data = await self._call("/suno/music/generate-music", body, self.submit_limiter, paced=False)
        return self._accepted_task_id(data, "new song")

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        results = []
        for task_id in task_ids:
            try:
                data = await self._call("/suno/music/get-task", {"task_id": task_id}, self.poll_limiter)
            except ProviderRejected as error:
                results.append(ProviderTask(task_id, ProviderState.UNKNOWN, raw_status=error.message))
            else:
                results.append(parse_task(task_id, data))
        return results

    async def _call(
        self, path: str, body: Mapping[str, Any], limiter: Pacer | None, *, paced: bool = True
    ) -> dict[str, Any]:
        """POST and check `code`: 200 is success, anything else is an error the message explains.

        Submissions pass `paced=False`: the submitter holds the slot already (`submit_slot`).
        """
        _, data = await self._post(path, body, limiter, paced=paced)
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"sunoapi sent an unexpected answer on {path}")
        code = _as_int(data.get("code"))
        if code == 200:
            return data
        message = str(data.get("message") or f"code {code}")
        if code in (401, 403) or "key verification" in message.lower():
            raise ProviderAuthError(f"sunoapi refused the API key: {message}")
        if code == 429:
            if limiter:
                await limiter.back_off()
            raise ProviderRateLimited(f"sunoapi rate limit: {message}")
        if code is None or code >= 500:
            raise ProviderUnavailable(f"sunoapi error: {message}")
        raise ProviderRejected(message)


def parse_task(task_id: str, data: Mapping[str, Any]) -> ProviderTask:
    """Map a get-task answer: the task is done when it says `complete` and every clip has its final audio."""
    raw_status = str(data.get("status") or "").lower()
    clips_data = [clip for clip in data.get("clips") or [] if isinstance(clip, dict)]
    state = STATES.get(raw_status, ProviderState.UNKNOWN)
    finished = [
        clip
        for clip in clips_data
        if str(clip.get("status") or raw_status).lower() == "complete" and clip.get("audio_url")
    ]
    failed = [clip for clip in clips_data if str(clip.get("status") or raw_status).lower() == "error"]
    if state is ProviderState.SUCCEEDED and len(finished) + len(failed) < len(clips_data):
        state = ProviderState.RUNNING
    if state is ProviderState.SUCCEEDED and not finished:
        state = ProviderState.FAILED
    clips = tuple(parse_clip(clip) for clip in (finished if state is ProviderState.SUCCEEDED else clips_data))
    error = None
    if state is ProviderState.FAILED:
        messages = [str(clip["error_message"]) for clip in failed if clip.get("error_message")]
        error = str(data.get("error_message") or "; ".join(messages) or "Suno reported an error")
    return ProviderTask(task_id=task_id, state=state, raw_status=raw_status or "unknown", clips=clips, error=error)


def parse_clip(data: Mapping[str, Any]) -> Clip:
    return Clip(
        id=str(data.get("continue_clip_id") or data.get("id") or ""),
        audio_url=data.get("audio_url") or None,
        image_url=data.get("image_large_url") or data.get("image_url") or None,
        title=data.get("title") or None,
        duration=_as_float(data.get("duration")),
    )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number != float("inf") else None
