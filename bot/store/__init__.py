"""What Encore keeps, as a protocol: the service and the Discord side depend on it, never on a backend.

Its SQL and row mapping are written once (`sql/`), over a small connector and a few hooks that each backend
fills in (SQLite in `sqlite/`, PostgreSQL in `postgres/`); one contract suite (`tests/store/`) holds each backend
to the same behaviour, including the claims that must succeed exactly once.

Work is shared by LEASES: a process claims a task (to submit, poll or deliver it) under its owner id for some
seconds, the claim is committed before any HTTP call, and no other claimer gets the task until the owner moves
it on (every transition releases the lease) or the lease runs out (its process died). A live owner renews its
leases. On SQLite, one process, the leases live in memory; on PostgreSQL they are columns taken with
`FOR UPDATE SKIP LOCKED`, and `listen` wakes the other processes when there is new work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.models import Clip, Requester, TaskRequest, TaskStatus
from bot.domain.pages import GalleryEntry, LineageEntry, PageSettings, SongPage
from bot.domain.quota import QuotaPolicy
from bot.domain.records import GuildSettings, ListenSessionRecord, SongRecord, TaskRecord, Usage, WholeSongRecord


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """What `python -m bot check` reports of the database, whichever the backend."""

    exists: bool
    size_bytes: int = 0
    schema_version: int = 0
    task_counts: dict[str, int] | None = None
    results_channels: dict[int, int] | None = None  # guild id -> configured results channel id
    in_use: bool = False


class StoreUnavailable(Exception):
    """The database cannot be used (missing, locked, read-only, not a database): the message says why, in one line."""


class TaskStore(Protocol):
    """The task lifecycle. Every transition is conditional on the status it expects and says whether it happened."""

    async def create_task(
        self,
        requester: Requester,
        provider: str,
        request: TaskRequest,
        *,
        reroll_of: int | None = None,
        quota: QuotaPolicy | None = None,
        dedupe_seconds: float = 10.0,
        bound: bool = True,
    ) -> TaskRecord | None:
        """Queue a request under the quota (raising `QuotaExceeded`); None for a duplicate of one just sent.

        `bound`: it must go to `provider`; else it may go to another while it has certainly not reached this one."""

    async def get_task(self, task_id: int) -> TaskRecord | None: ...

    async def task_by_message(self, message_id: int) -> TaskRecord | None: ...

    async def tasks_with_status(self, *statuses: TaskStatus) -> list[TaskRecord]: ...

    async def last_submit_at(self) -> float | None: ...

    async def claim_next_queued(self, provider: str, owner: str, now: float, lease: float) -> TaskRecord | None:
        """Lease the oldest queued task of `provider` that is due (`next_attempt_at <= now`) and not leased.

        A task returned with `submit_started_at` set was being submitted by a process that died: it is in doubt.
        """

    async def next_queued_due_at(self, provider: str) -> float | None:
        """When the earliest queued task of `provider` that nobody leases is due; None when there is none."""

    async def queue_position(self, task_id: int) -> int: ...

    async def claim_due_polls(
        self, provider: str, owner: str, now: float, limit: int, lease: float
    ) -> list[TaskRecord]:
        """Lease up to `limit` tasks of `provider` at the provider whose poll is due, the most overdue first."""

    async def active_tasks_by_provider_id(
        self, provider: str, provider_task_ids: Sequence[str]
    ) -> list[TaskRecord]: ...

    async def active_count(self) -> int: ...

    async def task_counts(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status (for metrics, read at scrape time); statuses with none are left out."""

    async def next_active_due_at(self, provider: str) -> float | None:
        """When the earliest poll of a task of `provider` that nobody leases is due; None when there is none."""

    async def claim_delivery(self, task_id: int, owner: str, lease: float) -> bool:
        """Lease a succeeded task to post it; False when it is not succeeded or another owner holds it."""

    async def renew_leases(self, owner: str, task_ids: Iterable[int], lease: float) -> None:
        """Extend `owner`'s leases on `task_ids` (the tasks it is working on) to `lease` seconds from now.

        A lease its owner no longer uses (a step failed half-way) is not renewed: it runs out, and the task
        goes to whoever claims it next.
        """

    async def release_leases(self, owner: str) -> None:
        """Give up every lease of `owner` (it is stopping), so others take its work at once."""

    async def listen(self, wake: Callable[[TaskStatus, int], None]) -> None:
        """Call `wake(QUEUED, id)` when any process queues a task and `wake(SUCCEEDED, id)` when one succeeds.

        Best effort: a notification can be lost, so callers also scan now and then.
        """

    async def begin_submit(self, task_id: int, owner: str | None = None) -> bool:
        """Claim a queued task for submission, exactly once; while `owner` (if given) still holds its lease."""

    async def mark_submitted(
        self, task_id: int, provider_task_id: str, next_poll_at: float, *, by_webhook: bool = False
    ) -> bool: ...

    async def resume_in_doubt(
        self, task_id: int, provider_task_id: str, next_poll_at: float, *, by_webhook: bool = False
    ) -> bool:
        """Track a task the provider accepted after it was failed as in doubt (`mark_failed(in_doubt=True)`)."""

    async def defer_submit(self, task_id: int, retry_at: float, note: str, *, counted: bool = True) -> bool:
        """Try a queued task again at `retry_at`; `counted` False spends none of its attempts (it only waits)."""

    async def claim_next_waiting(
        self, provider: str, owner: str, now: float, lease: float, *, created_before: float, movable: bool
    ) -> TaskRecord | None:
        """While `provider` is down: lease its oldest due queued task created before `created_before`, or (when
        `movable`) one that is not bound."""

    async def move_to_provider(self, task_id: int, owner: str, provider: str, request: TaskRequest) -> bool:
        """Hand a leased, queued, unbound task that certainly did not reach its provider to another one."""

    async def record_poll(
        self,
        task: TaskRecord,
        *,
        status: TaskStatus,
        provider_status: str,
        progress: int | None,
        next_poll_at: float,
        previews: Mapping[str, str] | None = None,
    ) -> bool:
        """Store a poll answer (and the preview audio it carries, if any); whether it moved the task."""

    async def defer_poll(self, task_id: int, retry_at: float) -> None: ...

    async def poll_now(self, task_id: int, provider: str, now: float, *, poll_regularly: bool = False) -> bool:
        """Make a task at `provider` due for a poll by `now` (with `poll_regularly`, at the usual pace from then on);
        False when it is not at that provider."""

    async def mark_succeeded(self, task: TaskRecord, clips: Sequence[Clip]) -> bool:
        """Store the clips as the task's songs and mark it succeeded; False when it is no longer at the provider.

        A clip id that is already stored is skipped, never overwritten: the song belongs to the task that made it.
        """

    async def mark_delivered(self, task_id: int, message_id: int, durations: Mapping[str, float]) -> bool: ...

    async def mark_undeliverable(self, task_id: int, error: str) -> bool: ...

    async def mark_failed(self, task_id: int, error: str, *, in_doubt: bool = False) -> bool: ...

    async def result_parts(self, task_id: int) -> dict[int, int]:
        """The messages of a task's result posted so far: part number (0 first) → message id."""

    async def record_result_part(self, task_id: int, part: int, message_id: int) -> None:
        """One message of a result is posted; a retried delivery skips it, however long after."""

    async def unfinished_tasks(self, guild_id: int, requester_id: int | None = None) -> list[TaskRecord]: ...

    async def cancel_task(self, task_id: int, requester_id: int | None = None) -> bool:
        """Cancel a queued task not yet claimed for submission, exactly once."""


class SongStore(Protocol):
    """Songs Encore made or was told about, and the chains of extends between them."""

    async def songs_of_task(self, task_id: int) -> list[SongRecord]: ...

    async def get_song(self, clip_id: str) -> SongRecord | None: ...

    async def recent_songs(self, owner_id: int, search: str = "", limit: int = 25) -> list[SongRecord]: ...

    async def song_chain(self, clip_id: str) -> list[SongRecord]: ...

    async def songs_page(
        self, guild_id: int, owner_id: int, offset: int, limit: int
    ) -> tuple[list[SongRecord], int]: ...


class CommunityStore(Protocol):
    """Server settings, stars, the showcase claim, rankings and usage."""

    async def guild_settings(self, guild_id: int) -> GuildSettings: ...

    async def update_guild_settings(self, guild_id: int, changes: Mapping[str, Any]) -> GuildSettings: ...

    async def add_star(self, task_id: int, user_id: int) -> int: ...

    async def remove_star(self, task_id: int, user_id: int) -> int: ...

    async def star_count(self, task_id: int) -> int: ...

    async def claim_showcase(self, task_id: int) -> bool:
        """Take the one right to repost a result in the showcase, exactly once."""

    async def record_showcase(self, task_id: int, message_id: int) -> None: ...

    async def release_showcase(self, task_id: int) -> None: ...

    async def top_starred(self, guild_id: int, since: float | None, limit: int) -> list[tuple[TaskRecord, int]]: ...

    async def usage(self, guild_id: int, since: float) -> Usage: ...


class WholeSongStore(Protocol):
    """The one whole-song post of a clip: claimed exactly once (or again once stale or failed), then recorded."""

    async def claim_whole_song(
        self,
        clip_id: str,
        *,
        guild_id: int | None,
        channel_id: int,
        requested_by: int | None,
        stale_after: float,
        now: float | None = None,
    ) -> bool:
        """Take the right to build and post it; False while it is posted or a claim younger than `stale_after` runs.

        `now` is the moment of the claim (the wall clock when omitted); claims are aged against it.
        """

    async def get_whole_song(self, clip_id: str) -> WholeSongRecord | None: ...

    async def record_whole_song(self, clip_id: str, *, channel_id: int, message_id: int, timeline_json: str) -> bool:
        """The post is made; False when the claim was no longer held."""

    async def release_whole_song(self, clip_id: str, error: str) -> None:
        """The build or post failed: record why and let a later press claim it again."""


class PageStore(Protocol):
    """Song pages: a server's choice to publish them, the page of each posted song, take-downs and the gallery."""

    async def page_settings(self, guild_id: int) -> PageSettings: ...

    async def servers_publishing(self) -> list[int]:
        """The servers with pages or a gallery on, by id."""

    async def set_pages_on(self, guild_id: int, on: bool) -> PageSettings: ...

    async def set_gallery(self, guild_id: int, gallery_id: str | None) -> PageSettings:
        """Turn the gallery on under `gallery_id`, or off with None."""

    async def reserve_page(
        self,
        page_id: str,
        *,
        clip_id: str,
        whole: bool,
        guild_id: int,
        task_id: int | None,
        makers: Sequence[str],
        model: str | None,
    ) -> str | None:
        """The id of the clip's page (or its whole song's): the one it already has, else `page_id`, newly kept.

        None while the server's pages are off, and for a page that was taken down (it never comes back).
        """

    async def record_page_message(self, page_id: str, channel_id: int, message_id: int) -> None:
        """The post the page belongs to is made: from now on the page answers."""

    async def song_page(self, page_id: str) -> SongPage | None:
        """A page that answers: posted, not taken down, its server's pages on; else None."""

    async def page_lineage(self, clip_id: str, guild_id: int) -> list[LineageEntry]:
        """The songs `clip_id` extends, nearest first, each with its own page in that server if it has one."""

    async def take_down_pages(self, task_id: int) -> int:
        """Take down every page of a result (its songs and their whole songs), for good; how many were up."""

    async def gallery(
        self, gallery_id: str, *, since: float, limit: int
    ) -> tuple[int, list[GalleryEntry], list[GalleryEntry]] | None:
        """A gallery that is on: its server, its showcased pages (newest first) and its pages with the most ⭐ since
        `since`; None for an unknown id or a gallery (or pages) turned off."""


class MetaStore(Protocol):
    """Small facts of the install: the commands hash, the webhook secret."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...


class ListenStore(Protocol):
    """`/listen` sessions saved for a restart, one per server: the queue as it stands, then deleted when it ends."""

    async def save_listen_session(self, session: ListenSessionRecord) -> None: ...

    async def listen_sessions(self) -> list[ListenSessionRecord]: ...

    async def delete_listen_session(self, guild_id: int) -> None: ...

    async def guild_songs(self, guild_id: int, offset: int, limit: int) -> list[SongRecord]:
        """A server's songs, newest first (`/listen radio`)."""


class Store(TaskStore, SongStore, CommunityStore, WholeSongStore, PageStore, MetaStore, ListenStore, Protocol):
    """Everything Encore keeps, on whichever backend the operator chose."""

    async def close(self) -> None: ...
