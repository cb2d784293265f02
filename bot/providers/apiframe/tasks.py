"""apiframe's task answers (a fetch result, also the body of a webhook call), read strictly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.models import Clip, ProviderState, ProviderTask
from bot.providers import answers
from bot.providers.errors import ProviderAnswerMalformed

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
    error = (error_message(data) or fallback) if state is ProviderState.FAILED else None
    return ProviderTask(
        task_id=task_id,
        state=state,
        raw_status=raw_status or "unknown",
        progress=progress,
        clips=tuple(clip for clip in clips if clip.audio_url) if state is ProviderState.SUCCEEDED else clips,
        error=error,
    )


def read_task(task_id: str, data: Mapping[str, Any]) -> ProviderTask:
    """The answer about `task_id`; an unreadable one (or one about another task) is reported for that task alone."""
    try:
        task = parse_task(data)
        if task.task_id != task_id:
            raise ProviderAnswerMalformed("the answer is about another task")
    except ProviderAnswerMalformed as error:
        return answers.unreadable(task_id, error)
    return task


def parse_song(data: Mapping[str, Any]) -> Clip | None:
    """One song, or None when it has no `song_id` (it cannot be stored or linked). apiframe sends no title or length."""
    song_id = answers.identifier(data, "song_id")
    if song_id is None:
        return None
    return Clip(id=song_id, audio_url=answers.url(data, "audio_url"), image_url=answers.url(data, "image_url"))


def error_message(data: Any) -> str | None:
    """The reason in a refusal or a failure: `errors[0].msg`, else `message` or `error` (its SDK reads those)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    return answers.reason(first, "msg") or answers.reason(data, "message", "error")
