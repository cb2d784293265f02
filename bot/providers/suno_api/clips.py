"""suno-api's answers, read strictly: a list of Suno clips, two per submission, and no task object.

Encore's task is the clips one submission made, so its state is folded from theirs: finished when every clip is
`complete` or `error` and at least one is complete, failed when all failed, running while any streams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.models import ProviderState, ProviderTask
from bot.providers import answers
from bot.providers.errors import ProviderAnswerMalformed

# The separator of the clip ids that stand for one task (not a character of a clip id).
SEPARATOR = ","
CLIP_STATES: dict[str, ProviderState] = {
    "submitted": ProviderState.QUEUED,
    "queued": ProviderState.QUEUED,
    "streaming": ProviderState.RUNNING,
    "complete": ProviderState.SUCCEEDED,
    "error": ProviderState.FAILED,
}


def task_id_of(clips: Sequence[Mapping[str, Any]]) -> str:
    """The task id of a submission: its clip ids joined, in order.

    suno-api has no task: the clip ids are the only handles, and `GET /api/get?ids=` takes them joined by commas.
    Keeping exactly that as Encore's provider task id means the store needs nothing new, a poll sends the task id
    unchanged, and a restarted bot polls the same clips. Raises `ProviderAnswerMalformed` without a usable id.
    """
    ids = [answers.identifier(clip, "id") for clip in clips]
    if not ids or None in ids:
        raise ProviderAnswerMalformed("suno-api accepted the request but sent no usable clip ids")
    return SEPARATOR.join(clip_id for clip_id in ids if clip_id)


def clip_ids_of(task_id: str) -> list[str]:
    return [clip_id for clip_id in task_id.split(SEPARATOR) if clip_id]


def submitted_clips(data: Any) -> list[Mapping[str, Any]]:
    """A submission's answer: a non-empty list of clip objects."""
    if not isinstance(data, list) or not data:
        raise ProviderAnswerMalformed("suno-api's answer is not a list of clips")
    return [answers.mapping(clip, "clip") for clip in data]


def fold(task_id: str, found: Mapping[str, Mapping[str, Any]]) -> ProviderTask:
    """Encore's task `task_id` from its clips as `/api/get` returned them (`found` by id)."""
    wanted = clip_ids_of(task_id)
    try:
        clips = [(clip_id, found[clip_id]) for clip_id in wanted if clip_id in found]
        if not clips:
            return ProviderTask(task_id, ProviderState.UNKNOWN, raw_status="missing")
        states = [CLIP_STATES.get(answers.status(clip), ProviderState.UNKNOWN) for _, clip in clips]
        raw_status = "/".join(answers.status(clip) or "unknown" for _, clip in clips)
        if len(clips) < len(wanted) or ProviderState.UNKNOWN in states:
            state = ProviderState.RUNNING
        elif all(state is ProviderState.FAILED for state in states):
            reason = next(filter(None, (answers.reason(clip, "error_message") for _, clip in clips)), None)
            return ProviderTask(task_id, ProviderState.FAILED, raw_status, error=reason or "Suno reported an error")
        elif all(state in (ProviderState.SUCCEEDED, ProviderState.FAILED) for state in states):
            finished = answers.unique(
                answers.track(clip, audio="audio_url", image="image_url")
                for (_, clip), state in zip(clips, states, strict=True)
                if state is ProviderState.SUCCEEDED
            )
            delivered = tuple(clip for clip in finished if clip.audio_url)
            if not delivered:
                return ProviderTask(task_id, ProviderState.FAILED, raw_status, error="Suno sent no audio")
            return ProviderTask(task_id, ProviderState.SUCCEEDED, raw_status, progress=100, clips=delivered)
        elif ProviderState.RUNNING in states or ProviderState.SUCCEEDED in states:
            state = ProviderState.RUNNING
        else:
            state = ProviderState.QUEUED
        return ProviderTask(
            task_id,
            state,
            raw_status,
            clips=answers.unique(answers.track(clip, audio="audio_url", image="image_url") for _, clip in clips),
        )
    except ProviderAnswerMalformed as error:
        return answers.unreadable(task_id, error)
