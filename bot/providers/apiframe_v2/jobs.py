"""apiframe v2's job answers (`GET /v2/jobs/:id`) and webhook bodies, read strictly.

Both carry a job's `status`, `progress` (0–100) and, once completed, `result.tracks`; a job answer names itself
`id`, a webhook body `jobId`. A track's `id` is what an extend names as `trackId`.
"""

from __future__ import annotations

from typing import Any

from bot.domain.models import ProviderState, ProviderTask
from bot.providers import answers
from bot.providers.errors import ProviderAnswerMalformed

STATES: dict[str, ProviderState] = {
    "queued": ProviderState.QUEUED,
    "processing": ProviderState.RUNNING,
    "completed": ProviderState.SUCCEEDED,
    "failed": ProviderState.FAILED,
}


def parse_job(data: Any, *, id_key: str = "id") -> ProviderTask:
    """Map a job (`id_key` "id") or a webhook body (`id_key` "jobId"); raises `ProviderAnswerMalformed`."""
    data = answers.mapping(data, "job")
    job_id = answers.identifier(data, id_key)
    if job_id is None:
        raise ProviderAnswerMalformed(f"the job has no {id_key}")
    raw_status = answers.status(data)
    state = STATES.get(raw_status, ProviderState.UNKNOWN)
    result = data.get("result")
    tracks = answers.objects(answers.mapping(result, "result"), "tracks") if result is not None else []
    clips = answers.unique(answers.track(track, audio="audioUrl", image="imageUrl") for track in tracks)
    progress = answers.percentage(data.get("progress"))
    if state is ProviderState.SUCCEEDED:
        delivered = tuple(clip for clip in clips if clip.audio_url)
        if not delivered:
            return ProviderTask(job_id, ProviderState.FAILED, raw_status, error="Suno sent no audio")
        return ProviderTask(job_id, state, raw_status, progress=100, clips=delivered)
    error = (error_message(data) or "Suno reported a failure") if state is ProviderState.FAILED else None
    return ProviderTask(job_id, state, raw_status or "unknown", progress=progress, clips=clips, error=error)


def read_job(job_id: str, data: Any) -> ProviderTask:
    """The answer about `job_id`; an unreadable one (or one about another job) is reported for that job alone."""
    try:
        task = parse_job(data)
        if task.task_id != job_id:
            raise ProviderAnswerMalformed("the answer is about another job")
    except ProviderAnswerMalformed as error:
        return answers.unreadable(job_id, error)
    return task


def error_message(data: Any) -> str | None:
    """`error` as text, or as an object's `message` (the page says only that `error` says why)."""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return answers.reason(data["error"], "message")
    return answers.reason(data, "error", "message")
