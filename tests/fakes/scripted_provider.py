"""sunoapi.co at the `Provider` port, without HTTP: for the service's millisecond tests.

Answers are get-task bodies as sunoapi.co sends them, read by the real `parse_task`, so a test scripts the
provider's words and the real fold (queued, streaming, partly complete, complete, error, malformed) decides what
the service sees. A poll or a submission can be scripted to fail with the client's own errors.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bot.domain.capabilities import ProviderCapabilities
from bot.domain.models import ExtendRequest, GenerateRequest, ProviderTask, TaskRequest
from bot.providers import Provider, ProviderError, ProviderRejected
from bot.providers.base import fetch_each
from bot.providers.sunoapi import CAPABILITIES, parse_task


class ScriptedSunoApi(Provider):
    """Accepts every submission (or raises the next scripted error) and answers polls from `answers`."""

    name: ClassVar[str] = "sunoapi"
    batch_size: ClassVar[int] = 1  # sunoapi.co's get-task reads one task
    capabilities: ClassVar[ProviderCapabilities] = CAPABILITIES

    def __init__(self) -> None:  # nothing leaves the process: no session, address or key
        self.submitted: list[TaskRequest] = []
        self.submit_errors: deque[ProviderError] = deque()
        self.poll_errors: deque[ProviderError] = deque()
        self.answers: dict[str, Mapping[str, Any]] = {}
        self.polled: list[str] = []
        self._ids = (f"suno-task-{number}" for number in itertools.count(1))

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        return self._submit(request)

    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        return self._submit(request)

    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        """Like the real client: an unknown task is UNKNOWN, an unreadable answer is UNKNOWN and `malformed`."""
        assert len(task_ids) <= self.batch_size, f"{len(task_ids)} tasks in one get-task"
        self.polled.extend(task_ids)
        if self.poll_errors:
            raise self.poll_errors.popleft()

        async def answer(task_id: str) -> Mapping[str, Any]:
            if (found := self.answers.get(task_id)) is None:
                raise ProviderRejected("task not found")
            return found

        return await fetch_each(task_ids, answer, parse_task)

    def _submit(self, request: TaskRequest) -> str:
        if self.submit_errors:
            raise self.submit_errors.popleft()
        if isinstance(request, ExtendRequest) and request.clip_id is None and request.upload_song_id is None:
            raise ProviderRejected("continue_clip_id is required")
        self.submitted.append(request)
        return next(self._ids)

    def _headers(self) -> Mapping[str, str]:
        return {}


def clip(clip_id: str, status: str = "complete", *, audio: bool = True, **fields: Any) -> dict[str, Any]:
    """One clip of a get-task answer; `audio` gives it a (public) audio URL, as a finished clip has."""
    data: dict[str, Any] = {
        "continue_clip_id": clip_id,
        "status": status,
        "title": "A song",
        "duration": 120.0,
        **fields,
    }
    if audio:
        data["audio_url"] = f"https://cdn1.suno.ai/{clip_id}.mp3"
    return data


def answer(status: str, *clips: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A get-task answer of sunoapi.co: the task's status and its clips."""
    return {"code": 200, "status": status, "clips": list(clips), **fields}
