"""What Encore keeps: a task with its lifecycle, the songs it made, a server's settings and usage.

Plain records, built by whichever store backend read them; nothing here knows how they are stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from enum import StrEnum

from bot.domain.models import TaskRequest, TaskStatus, request_from_json


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task: who asked for what, where the result goes, and where it is in its lifecycle."""

    id: int
    kind: str
    status: TaskStatus
    provider: str
    provider_task_id: str | None
    requester_id: int
    guild_id: int | None
    channel_id: int
    upload_limit: int | None
    request_json: str
    reroll_of: int | None
    provider_status: str | None
    progress: int | None
    error: str | None
    attempts: int
    next_attempt_at: float
    last_change_at: float
    submit_started_at: float | None
    result_message_id: int | None
    created_at: float
    updated_at: float
    finished_at: float | None
    submitted_at: float | None = None  # when the provider accepted it: the poll scheduler's clock
    showcased_at: float | None = None  # when the showcase repost was claimed (exactly once)
    showcase_message_id: int | None = None
    reports_by_webhook: bool = False  # submitted with a webhook URL: polling is only its safety net
    previews_json: str | None = None  # {clip id: audio URL} the provider handed out while generating
    # Must go to `provider` (an extend, reroll or upload of a song made there); else it may go to another provider
    # while it has certainly not reached this one.
    bound: bool = True

    @property
    def request(self) -> TaskRequest:
        return request_from_json(self.kind, self.request_json)

    @property
    def previews(self) -> dict[str, str]:
        """Audio the provider streams while it still makes the clips, by clip id (empty before any appears)."""
        return dict(json.loads(self.previews_json)) if self.previews_json else {}


@dataclass(frozen=True, slots=True)
class SongRecord:
    """A clip Encore has made or been told about, and where it continues its parent."""

    clip_id: str
    provider: str
    provider_task_id: str | None
    task_id: int | None
    owner_id: int | None
    guild_id: int | None
    title: str | None
    duration: float | None
    audio_url: str | None
    image_url: str | None
    parent_clip_id: str | None
    continue_at: float | None
    created_at: float
    model: str | None = None  # the model that made it, when known: its extends run the same one


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """What a server's managers chose; `None` means the bot-wide default (same channel, `.env` daily limit)."""

    guild_id: int
    results_channel_id: int | None = None
    reroll_anyone: bool = False
    showcase_channel_id: int | None = None
    star_threshold: int = 3
    daily_limit: int | None = None
    whole_song_auto: bool = False  # post the whole song of every clip after its result, unasked


GUILD_SETTING_NAMES = frozenset(field.name for field in fields(GuildSettings)) - {"guild_id"}


class WholeSongState(StrEnum):
    """A whole song's post: being built under a claim, posted, or failed (a later press may try again)."""

    BUILDING = "building"
    POSTED = "posted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WholeSongRecord:
    """The one whole-song post of a clip (the last of its chain), or the claim to make it.

    `timeline_json` (a `WholeSongTimeline`) is kept once it is posted, for `/song`'s picture and the Extend button.
    """

    clip_id: str
    state: WholeSongState
    guild_id: int | None
    channel_id: int | None
    message_id: int | None
    requested_by: int | None
    claimed_at: float
    posted_at: float | None
    error: str | None
    timeline_json: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """Tasks asked for, how many reached the provider (those cost credits), and how many failed."""

    tasks: int
    submitted: int
    failed: int


@dataclass(frozen=True, slots=True)
class Usage:
    """A server's usage over a period: per member id, and per UTC day (`YYYY-MM-DD`, only days with tasks)."""

    by_member: dict[int, UsageCounts]
    by_day: dict[str, UsageCounts]


@dataclass(frozen=True, slots=True)
class SavedTrack:
    """A song of a saved `/listen` queue: the clip, whether it is the chain's whole song, who queued it."""

    clip_id: str
    requester_id: int
    whole: bool = False


@dataclass(frozen=True, slots=True)
class ListenSessionRecord:
    """A server's voice session as saved for a restart: where, who started it, the queue (the playing song first)
    and how far into that song it was."""

    guild_id: int
    voice_channel_id: int
    text_channel_id: int
    starter_id: int
    tracks: tuple[SavedTrack, ...]
    position: float = 0.0
