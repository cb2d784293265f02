"""The library: what Encore made and is making, read for `/song`, `/songs`, `/queue`, autocomplete and buttons.

Read-only use cases over the store, so the Discord side asks one door and never the store itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.audio.waveform import render_waveform
from bot.domain.models import TaskStatus
from bot.domain.records import SongRecord, TaskRecord, WholeSongRecord, WholeSongState
from bot.domain.wholesong import WholeSongTimeline
from bot.store import Store


def cancellable(task: TaskRecord) -> bool:
    """Still queued and not being submitted: the only tasks a cancel can stop before they cost anything."""
    return task.status is TaskStatus.QUEUED and task.submit_started_at is None


@dataclass(frozen=True, slots=True)
class SongsPage:
    """One page of a member's songs, newest first; `page` is the one shown (a page past the end shows the last)."""

    songs: list[SongRecord]
    total: int
    page: int
    last_page: int


@dataclass(frozen=True, slots=True)
class PostedWholeSong:
    """A song's posted whole song: where it is, and its waveform drawn again from the recorded timeline."""

    record: WholeSongRecord
    message_id: int
    waveform_png: bytes


@dataclass(frozen=True, slots=True)
class SongCard:
    """Everything `/song` shows: the song, its chain (oldest first), the task that made it, its whole song."""

    song: SongRecord
    chain: list[SongRecord]
    task: TaskRecord | None
    whole_song: PostedWholeSong | None


@dataclass(frozen=True, slots=True)
class Queue:
    """Unfinished tasks, oldest first, and the submission-queue place of each shown one that can be cancelled."""

    tasks: list[TaskRecord]
    positions: dict[int, int]


class Library:
    """Songs, chains and unfinished tasks as the store has them; it writes nothing."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def song_card(self, clip_id: str, guild_id: int | None) -> SongCard | None:
        """The song Encore made on this server, or None (another server's songs are not shown here)."""
        song = await self._store.get_song(clip_id)
        if song is None or song.guild_id != guild_id:
            return None
        chain = await self._store.song_chain(clip_id)
        task = await self._store.get_task(song.task_id) if song.task_id else None
        return SongCard(song, chain, task, await self._posted_whole_song(clip_id))

    async def _posted_whole_song(self, clip_id: str) -> PostedWholeSong | None:
        whole = await self._store.get_whole_song(clip_id)
        if not (whole and whole.state is WholeSongState.POSTED and whole.timeline_json and whole.message_id):
            return None
        built = WholeSongTimeline.from_json(whole.timeline_json)
        spans = [(span.start, span.end or built.duration) for span in built.spans]
        png = await asyncio.to_thread(render_waveform, built.peaks, built.duration, spans, built.seams)
        return PostedWholeSong(whole, whole.message_id, png)

    async def songs_page(self, guild_id: int, owner_id: int, page: int, per_page: int) -> SongsPage:
        """Page `page` (from 0) of the member's songs on this server; past the end, the last page."""
        songs, total = await self._store.songs_page(guild_id, owner_id, page * per_page, per_page)
        last = max(0, (total - 1) // per_page)
        page = min(page, last)
        if not songs and page:
            songs, total = await self._store.songs_page(guild_id, owner_id, page * per_page, per_page)
        return SongsPage(songs, total, page, last)

    async def queue(self, guild_id: int, requester_id: int | None, *, shown: int) -> Queue:
        """The server's unfinished tasks (one member's, given `requester_id`); places for the first `shown`."""
        tasks = await self._store.unfinished_tasks(guild_id, requester_id)
        positions = {task.id: await self._store.queue_position(task.id) for task in tasks[:shown] if cancellable(task)}
        return Queue(tasks, positions)

    async def recent_songs(self, owner_id: int, search: str, limit: int) -> list[SongRecord]:
        """The member's latest songs whose title or id contains `search`, for autocomplete (local, fast)."""
        return await self._store.recent_songs(owner_id, search, limit=limit)

    async def task(self, task_id: int) -> TaskRecord | None:
        return await self._store.get_task(task_id)

    async def task_by_message(self, message_id: int) -> TaskRecord | None:
        """The task whose result is this message (its first one), if Encore posted it."""
        return await self._store.task_by_message(message_id)
