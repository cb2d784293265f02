"""The sunoapi.org contract's task answers, read strictly: `record-info` (camelCase) and callbacks (snake_case).

Both carry the same tracks under different spellings; a track's `id` is the clip id an extend names as `audioId`.
While the task runs, a track's `audioUrl` may be empty and `streamAudioUrl` a live preview: only a finished task's
final `audioUrl` is delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.models import Clip, ProviderState, ProviderTask
from bot.providers import answers
from bot.providers.errors import ProviderAnswerMalformed, as_code

STATES: dict[str, ProviderState] = {
    "PENDING": ProviderState.QUEUED,
    "TEXT_SUCCESS": ProviderState.RUNNING,
    "FIRST_SUCCESS": ProviderState.RUNNING,
    "SUCCESS": ProviderState.SUCCEEDED,
    "CREATE_TASK_FAILED": ProviderState.FAILED,
    "GENERATE_AUDIO_FAILED": ProviderState.FAILED,
    "SENSITIVE_WORD_ERROR": ProviderState.FAILED,
    # Listed among the failures, but it says Encore's callback failed, not the song: decided by the tracks below.
    "CALLBACK_EXCEPTION": ProviderState.FAILED,
}
CALLBACK_STATES: dict[str, ProviderState] = {
    "text": ProviderState.RUNNING,
    "first": ProviderState.RUNNING,
    "complete": ProviderState.SUCCEEDED,
    "error": ProviderState.FAILED,
}


@dataclass(frozen=True, slots=True)
class TrackKeys:
    """How one kind of answer spells a track's fields."""

    audio: str
    stream: str
    image: str


RECORD_KEYS = TrackKeys(audio="audioUrl", stream="streamAudioUrl", image="imageUrl")
CALLBACK_KEYS = TrackKeys(audio="audio_url", stream="stream_audio_url", image="image_url")


def parse_record(task_id: str, answer: Mapping[str, Any]) -> ProviderTask:
    """Map a `record-info` answer (`code` 200) about `task_id`; raises `ProviderAnswerMalformed` if unreadable."""
    record = answers.mapping(answer.get("data"), "record")
    if answers.identifier(record, "taskId") not in (None, task_id):
        raise ProviderAnswerMalformed("the answer is about another task")
    raw_status = (answers.text(record, "status", answers.STATUS_MAX) or "").upper()
    state = STATES.get(raw_status, ProviderState.UNKNOWN)
    response = record.get("response")
    tracks = answers.objects(answers.mapping(response, "response"), "sunoData") if response else []
    failure = answers.reason(record, "errorMessage") or f"Suno reported {raw_status.lower() or 'a failure'}"
    return _task(task_id, state, raw_status, tracks, RECORD_KEYS, failure)


def parse_callback(body: Any) -> ProviderTask:
    """Map a callback body: `{code, msg, data: {callbackType, task_id, data: [tracks]}}`; a `code` other than 200
    is the task's failure, `msg` says why."""
    body = answers.mapping(body, "callback")
    inner = answers.mapping(body.get("data"), "callback's data")
    task_id = answers.identifier(inner, "task_id")
    if task_id is None:
        raise ProviderAnswerMalformed("the callback has no task_id")
    kind = (answers.text(inner, "callbackType", answers.STATUS_MAX) or "").lower()
    tracks = answers.objects(inner, "data")
    if as_code(body.get("code")) != 200:
        reason = answers.reason(body, "msg") or "Suno reported a failure"
        return ProviderTask(task_id, ProviderState.FAILED, kind or "error", error=reason)
    state = CALLBACK_STATES.get(kind, ProviderState.UNKNOWN)
    return _task(task_id, state, kind, tracks, CALLBACK_KEYS, "Suno reported a failure")


def _task(
    task_id: str,
    state: ProviderState,
    raw_status: str,
    tracks: list[Mapping[str, Any]],
    keys: TrackKeys,
    failure: str,
) -> ProviderTask:
    """The task its tracks make: finished only with final audio; a callback failure with finished tracks is done."""
    finals = answers.unique(_clip(track, keys, final=True) for track in tracks)
    delivered = tuple(clip for clip in finals if clip.audio_url)
    if raw_status == "CALLBACK_EXCEPTION" and delivered:
        state = ProviderState.SUCCEEDED
    if state is ProviderState.SUCCEEDED:
        if not delivered:
            return ProviderTask(task_id, ProviderState.FAILED, raw_status.lower(), error=answers.NO_USABLE_SONG)
        return ProviderTask(task_id, state, raw_status.lower(), progress=100, clips=delivered)
    clips = answers.unique(_clip(track, keys, final=False) for track in tracks)
    error = failure if state is ProviderState.FAILED else None
    return ProviderTask(task_id, state, raw_status.lower() or "unknown", clips=clips, error=error)


def _clip(track: Mapping[str, Any], keys: TrackKeys, *, final: bool) -> Clip | None:
    """One track, or None without an `id`; before the end its audio may be the live preview stream."""
    clip_id = answers.identifier(track, "id")
    if clip_id is None:
        return None
    audio = answers.url(track, keys.audio)
    return Clip(
        id=clip_id,
        audio_url=audio if final else audio or answers.url(track, keys.stream),
        image_url=answers.url(track, keys.image),
        title=answers.text(track, "title", answers.TITLE_MAX),
        duration=answers.duration(track.get("duration")),
    )
