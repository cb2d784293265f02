"""The normalized task and clip model that every provider maps onto, and the requests Encore submits."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any, Self


class TaskStatus(StrEnum):
    """Encore's own lifecycle of a task, persisted at every step."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"
    CANCELLED = "cancelled"


# Status groups every store and rule shares, so no query spells them out on its own.
AT_PROVIDER: tuple[TaskStatus, ...] = (TaskStatus.SUBMITTED, TaskStatus.RUNNING)
"""Submitted and not finished: the provider has it, and Encore polls it."""
IN_PROGRESS: tuple[TaskStatus, ...] = (TaskStatus.QUEUED, *AT_PROVIDER)
"""Queued or at the provider: what the per-member limit of tasks at once counts."""
UNFINISHED: tuple[TaskStatus, ...] = (*IN_PROGRESS, TaskStatus.SUCCEEDED)
"""Everything a restart must resume: queued, at the provider, or made and not yet posted."""


class ProviderState(StrEnum):
    """What a provider says of a task, folded into a handful of states."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Clip:
    """One finished (or finishing) song of a provider task."""

    id: str
    audio_url: str | None
    image_url: str | None
    title: str | None = None
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class ProviderTask:
    """A provider's answer about one task, normalized.

    `malformed` says why the answer could not be read (state UNKNOWN): the poller backs off that task alone and
    fails it after the stall timeout.
    """

    task_id: str
    state: ProviderState
    raw_status: str
    progress: int | None = None
    clips: tuple[Clip, ...] = ()
    error: str | None = None
    malformed: str | None = None


class StoredRequest:
    """A request kept as JSON in `tasks.request_json`, so a restart can submit it again unchanged."""

    __slots__ = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str) -> Self:
        """The stored request; keys a newer or older version wrote that this one does not know are ignored."""
        data: dict[str, Any] = json.loads(text)
        known = {field.name for field in fields(cls)}  # type: ignore[arg-type]
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True, slots=True)
class ExtendRequest(StoredRequest):
    """A validated extend: which clip (or the member's uploaded track), from where, and with what words and style.

    An upload has no Suno clip id: `clip_id` is None, `upload_song_id` is the song the provider made of the upload
    (what is extended), `parent_task_id` the upload task (kept for the record), and `upload_name` and
    `upload_url` say what was uploaded. Requests stored before `upload_song_id` existed load without it.
    """

    clip_id: str | None
    continue_at: float
    parent_task_id: str | None = None
    lyrics: str | None = None
    prompt: str | None = None
    style: str | None = None
    title: str | None = None
    model: str | None = None
    upload_name: str | None = None
    upload_url: str | None = None
    upload_song_id: str | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    """A member's track accepted by the provider: its task, the song made of it (what an extend names), its URL.

    A provider that takes the track with the extend itself (sunoapi.org's upload-extend) has no task or song for it
    yet: both are None, and the extend sends the URL.
    """

    task_id: str | None
    song_id: str | None
    audio_url: str


@dataclass(frozen=True, slots=True)
class GenerateRequest(StoredRequest):
    """A validated new song: a description or lyrics, with style, title and model."""

    prompt: str | None = None
    lyrics: str | None = None
    style: str | None = None
    title: str | None = None
    instrumental: bool = False
    model: str | None = None


TaskRequest = ExtendRequest | GenerateRequest
TASK_KINDS: dict[str, type[ExtendRequest] | type[GenerateRequest]] = {
    "extend": ExtendRequest,
    "generate": GenerateRequest,
}


def task_kind(request: TaskRequest) -> str:
    """The `tasks.kind` of a request."""
    return "generate" if isinstance(request, GenerateRequest) else "extend"


def request_from_json(kind: str, text: str) -> TaskRequest:
    """The request stored in `tasks.request_json` for a task of `kind`."""
    return TASK_KINDS[kind].from_json(text)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, and where the result goes."""

    user_id: int
    channel_id: int
    guild_id: int | None
    upload_limit: int | None = None
