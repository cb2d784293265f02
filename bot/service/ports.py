"""What the service needs from the outside world, and what it hands back: the seams the Discord side plugs into."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.domain.records import SongRecord, TaskRecord
from bot.domain.wholesong import ChainPart, WholeSongTimeline


@dataclass(frozen=True, slots=True)
class ClipMedia:
    """A clip's files on disk to post, or why one is missing; `audio_too_large` when only the upload limit stood in
    the way (then a link to the audio still works)."""

    audio: Path | None
    cover: Path | None
    duration: float | None
    audio_problem: str | None = None
    audio_too_large: bool = False
    extension: str = "mp3"  # what the audio really is, so a FLAC is never posted under an .mp3 name


NO_MEDIA = ClipMedia(None, None, None, audio_problem="the audio could not be fetched")
"""What a clip is posted with when nothing was prepared for it: its links only."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that became a task, and its place in the submission queue; `note` is what Encore made of it."""

    task: TaskRecord
    position: int
    note: str | None = None


class DeliveryError(Exception):
    """Posting failed; `permanent` when trying again cannot help (channel gone, no permission)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class PostedParts:
    """The messages of one result already posted (part number → message id), and the record of each new one.

    A result can take several messages. Each is recorded as soon as it is posted, so a delivery retried after a
    failed record or a restart posts only the missing ones, however long after: Discord's nonce only dedupes a
    send for a few minutes.
    """

    def __init__(self, posted: dict[int, int], record: Callable[[int, int], Awaitable[None]]) -> None:
        self._posted = dict(posted)
        self._record = record

    def get(self, part: int) -> int | None:
        return self._posted.get(part)

    async def add(self, part: int, message_id: int) -> None:
        """Remember a posted part; a failed record is a transient delivery fault (the part stays skipped here)."""
        self._posted[part] = message_id
        try:
            await self._record(part, message_id)
        except Exception as error:
            raise DeliveryError(
                f"could not record a posted message ({type(error).__name__})", permanent=False
            ) from error


class Metrics(Protocol):
    """What the service measures; the composition root plugs in an exporter, so the service imports none."""

    def submitted(self, provider: str, outcome: str) -> None:
        """One submission: `outcome` is "ok" or the kind of error (see `_context.outcome`)."""

    def polled(self, provider: str, outcome: str, tasks: int) -> None:
        """One poll request covering `tasks` tasks."""

    def delivered(self, outcome: str, seconds: float) -> None:
        """One attempt to post a result ("delivered", "retrying", "undeliverable") and how long it took."""

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        """The submit loop waits `seconds` for the provider's documented pace before the next submission."""

    def provider_health(self, provider: str, *, up: bool) -> None:
        """A provider was put in cool-down (`up` False) or answered again (`up` True)."""

    def whole_song(self, outcome: str, trigger: str, seconds: float | None = None) -> None:
        """A whole song "started" (claimed), "posted" or "failed" (with its build time); `trigger` is how it was
        asked for: "button" (a press) or "auto" (the server's setting)."""

    def whole_song_part(self, source: str) -> None:
        """One part of a whole song read from `source`: "cache" (Encore's own copy) or "download"."""


class NoMetrics:
    """Measures nothing: the default for a service built without an exporter (tests, tools)."""

    def submitted(self, provider: str, outcome: str) -> None:
        pass

    def polled(self, provider: str, outcome: str, tasks: int) -> None:
        pass

    def delivered(self, outcome: str, seconds: float) -> None:
        pass

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        pass

    def provider_health(self, provider: str, *, up: bool) -> None:
        pass

    def whole_song(self, outcome: str, trigger: str, seconds: float | None = None) -> None:
        pass

    def whole_song_part(self, source: str) -> None:
        pass


class TaskEvents(Protocol):
    """What the Discord side does when a task moves; the service calls these, never Discord itself."""

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        """The task's status, progress or place in the submission queue changed, or a poll of it is being retried."""

    async def task_failed(self, task: TaskRecord) -> None:
        """The task ended without a result; `task.error` says why."""

    def upload_limit(self, guild_id: int | None) -> int:
        """The server's upload limit per file, for a task whose interaction did not report one."""

    async def task_resumed(self, task: TaskRecord) -> None:
        """A task failed as in doubt was accepted by the provider after all: correct what the requester was told."""

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        """Post the finished songs with their prepared files (by clip id; a clip missing has none), skipping the
        `parts` already posted and adding each new one to them, and return the first message's id.

        Raise `DeliveryError` when it cannot.
        """

    async def task_delivered(self, task: TaskRecord) -> None:
        """The result message is recorded; add what follows it (reactions, the requester's reply)."""

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        """The songs exist but cannot be posted where they were asked for; tell the requester another way."""


@dataclass(frozen=True, slots=True)
class WholeSongPost:
    """A built whole song to post as a reply: the files on disk, the chain it joins and who made it."""

    song: SongRecord
    chain: list[SongRecord]
    parts: tuple[ChainPart, ...]
    audio: Path
    waveform_png: bytes
    timeline: WholeSongTimeline
    bitrate: int
    makers: list[int]
    channel_id: int
    guild_id: int | None
    reply_to: int | None
    built_by: str = ""
    """How the audio was made (frames copied, or re-encoded and why), for the post's footer."""
    maker_names: tuple[str, ...] = ()
    """The makers' names as the file's tags have them (looked up once), for the whole song's page."""


class WholeSongEvents(Protocol):
    """What building and posting a whole song needs from the Discord side."""

    async def result_audio_url(self, task: TaskRecord, position: int) -> str | None:
        """A fresh URL of the mp3 of the `position`-th clip (from 1) on the task's result message (Discord's URLs
        expire); None if it is gone."""

    async def maker_names(self, guild_id: int | None, user_ids: list[int]) -> list[str]:
        """Display names of the chain's makers, for the file's tags."""

    def upload_limit(self, guild_id: int | None) -> int:
        """The server's upload limit per file, when the interaction did not report one."""

    async def post_whole_song(self, post: WholeSongPost) -> int:
        """Post it in the channel as a reply; return the message id. Raise `DeliveryError` when it cannot."""

    async def whole_song_failed(self, channel_id: int, guild_id: int | None, reply_to: int | None, reason: str) -> None:
        """An automatic whole song could not be made: say so under the result, since nobody pressed for it."""
