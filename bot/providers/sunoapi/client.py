"""sunoapi.co (`extend-music`, `generate-music`, `get-task`): judged by the `code` in the body, paced by its limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.models import Clip, ExtendRequest, GenerateRequest, ProviderState, ProviderTask
from bot.domain.pacing import Pacer
from bot.providers import answers
from bot.providers.base import PacedProvider, fetch_each, optional_fields
from bot.providers.errors import (
    AnswerCodes,
    ProviderAnswerMalformed,
    answer_error,
    as_code,
)
from bot.providers.sunoapi.capabilities import CAPABILITIES

# sunoapi.co judges by the `code` in the body; a rate-limit violation is undocumented (assumed 429).
CODES = AnswerCodes()

STATES: dict[str, ProviderState] = {
    "submitted": ProviderState.QUEUED,
    "queued": ProviderState.QUEUED,
    "streaming": ProviderState.RUNNING,
    "complete": ProviderState.SUCCEEDED,
    "error": ProviderState.FAILED,
}


class SunoApiProvider(PacedProvider):
    """Client of sunoapi.co (and its successor api.sunosay.com, same paths)."""

    name = "sunoapi"
    capabilities = CAPABILITIES
    batch_size = 1

    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        body = optional_fields(
            prompt=request.lyrics or request.prompt,
            tags=request.style,
            title=request.title,
            continue_clip_id=request.clip_id,
            continue_at=request.continue_at,
        )
        data = await self._call("/suno/music/extend-music", body, self.submit_limiter, paced=False)
        return answers.accepted_task_id(data, self.name, "extend")

    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        """`generate-music` shares the extend's submit window (one per 4 s), so it takes the same limiter."""
        body = optional_fields(prompt=request.lyrics or request.prompt, tags=request.style, title=request.title)
        data = await self._call("/suno/music/generate-music", body, self.submit_limiter, paced=False)
        return answers.accepted_task_id(data, self.name, "new song")

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        return await fetch_each(
            task_ids,
            lambda task_id: self._call("/suno/music/get-task", {"task_id": task_id}, self.poll_limiter),
            parse_task,
        )

    async def _call(
        self, path: str, body: Mapping[str, Any], limiter: Pacer | None, *, paced: bool = True
    ) -> dict[str, Any]:
        """POST and check `code`: 200 is success, anything else is an error the message explains.

        Submissions pass `paced=False`: the submitter holds the slot already (`submit_slot`). An answer that is not a
        JSON object is unreadable, not a failure to retry: a submission it answers may have been accepted.
        """
        status, data = await self._post(path, body, limiter, paced=paced)
        if not isinstance(data, dict):
            raise ProviderAnswerMalformed(
                f"sunoapi sent a {type(data).__name__}, not a JSON object (HTTP {status}) on {path}"
            )
        code = as_code(data.get("code"))
        if code == 200:
            return data
        message = answers.reason(data, "message") or f"code {code}"
        if "key verification" in message.lower():  # the documented bad-key answer names no code
            code = 401
        await self._refused(answer_error("sunoapi", code, message, CODES), limiter)


def parse_task(task_id: str, data: Mapping[str, Any]) -> ProviderTask:
    """Map a get-task answer: the task is done when it says `complete` and every clip has its final audio.

    Raises `ProviderAnswerMalformed` for an answer that breaks the rules in `bot.providers.answers`.
    """
    raw_status = answers.status(data)
    clips_data = [(answers.status(clip) or raw_status, clip) for clip in answers.objects(data, "clips")]
    state = STATES.get(raw_status, ProviderState.UNKNOWN)
    finished = [clip for status, clip in clips_data if status == "complete" and answers.url(clip, "audio_url")]
    failed = [clip for status, clip in clips_data if status == "error"]
    if state is ProviderState.SUCCEEDED and len(finished) + len(failed) < len(clips_data):
        state = ProviderState.RUNNING
    chosen = finished if state is ProviderState.SUCCEEDED else [clip for _, clip in clips_data]
    clips = answers.unique(parse_clip(clip) for clip in chosen)
    unusable = state is ProviderState.SUCCEEDED and not clips
    if unusable:
        state = ProviderState.FAILED
    error = None
    if state is ProviderState.FAILED:
        messages = [message for clip in failed if (message := answers.reason(clip, "error_message"))]
        error = answers.reason(data, "error_message") or answers.bounded("; ".join(messages), answers.REASON_MAX)
        error = error or (answers.NO_USABLE_SONG if unusable else "Suno reported an error")
    return ProviderTask(task_id=task_id, state=state, raw_status=raw_status or "unknown", clips=clips, error=error)


def parse_clip(data: Mapping[str, Any]) -> Clip | None:
    """One clip, or None when it has no id (it cannot be stored or linked)."""
    clip_id = answers.identifier(data, "continue_clip_id", "id")
    if clip_id is None:
        return None
    return Clip(
        id=clip_id,
        audio_url=answers.url(data, "audio_url"),
        image_url=answers.url(data, "image_large_url") or answers.url(data, "image_url"),
        title=answers.text(data, "title", answers.TITLE_MAX),
        duration=answers.duration(data.get("duration")),
    )
