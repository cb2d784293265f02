"""Community rules: who may cancel what, when a starred result earns its showcase repost, and the rankings.

The Discord side asks these questions and posts what they decide; the claims that must happen once are the store's.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.quota import DAY_SECONDS
from bot.domain.records import GuildSettings, SongRecord, TaskRecord
from bot.store import Store

# /top periods: (label, seconds back; None for all time).
PERIODS: dict[str, tuple[str, float | None]] = {
    "day": ("today", DAY_SECONDS),
    "week": ("this week", 7 * DAY_SECONDS),
    "month": ("this month", 30 * DAY_SECONDS),
    "all": ("all time", None),
}


@dataclass(frozen=True, slots=True)
class ShowcaseDue:
    """A result that just earned its repost: the claim is taken, so the caller posts it and reports back."""

    task: TaskRecord
    songs: list[SongRecord]
    chain: list[SongRecord]
    stars: int
    channel_id: int


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What pressing Cancel did: `allowed` (the member may cancel it) and `cancelled` (it was still queued)."""

    allowed: bool
    cancelled: TaskRecord | None = None


class Community:
    """Stars, showcase, cancels and rankings over the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def star(self, message_id: int, user_id: int) -> ShowcaseDue | None:
        """Count a member's ⭐ on a result (not on their own); the showcase repost to make, if it is now due."""
        task = await self._starrable(message_id, user_id)
        if task is None:
            return None
        stars = await self._store.add_star(task.id, user_id)
        if task.showcased_at is not None or task.guild_id is None:
            return None
        settings = await self._store.guild_settings(task.guild_id)
        if settings.showcase_channel_id is None or stars < settings.star_threshold:
            return None
        songs = await self._store.songs_of_task(task.id)
        if not songs or not await self._store.claim_showcase(task.id):
            return None
        chain = await self._store.song_chain(songs[0].clip_id)
        return ShowcaseDue(task, songs, chain, stars, settings.showcase_channel_id)

    async def unstar(self, message_id: int, user_id: int) -> None:
        if task := await self._starrable(message_id, user_id):
            await self._store.remove_star(task.id, user_id)

    async def showcased(self, task_id: int, message_id: int) -> None:
        await self._store.record_showcase(task_id, message_id)

    async def showcase_failed(self, task_id: int) -> None:
        """The repost failed: give the claim back, so a later star can try again."""
        await self._store.release_showcase(task_id)

    async def _starrable(self, message_id: int, user_id: int) -> TaskRecord | None:
        task = await self._store.task_by_message(message_id)
        return None if task is None or task.requester_id == user_id else task

    async def cancel(self, task_id: int, user_id: int, guild_id: int | None, *, manages_server: bool) -> CancelOutcome:
        """Cancel a queued task for its requester, or for anyone who manages its server."""
        task = await self._store.get_task(task_id)
        if task is None or task.guild_id != guild_id or not (manages_server or task.requester_id == user_id):
            return CancelOutcome(allowed=False)
        if not await self._store.cancel_task(task.id, None if manages_server else user_id):
            return CancelOutcome(allowed=True)
        return CancelOutcome(allowed=True, cancelled=await self._store.get_task(task.id))

    async def top(
        self, guild_id: int, period: str, now: float, limit: int
    ) -> list[tuple[TaskRecord, int, SongRecord | None]]:
        """The most starred results of a period, each with its first song."""
        _, seconds = PERIODS[period]
        ranked = await self._store.top_starred(guild_id, now - seconds if seconds else None, limit)
        rows = []
        for task, stars in ranked:
            songs = await self._store.songs_of_task(task.id)
            rows.append((task, stars, songs[0] if songs else None))
        return rows

    async def settings(self, guild_id: int) -> GuildSettings:
        return await self._store.guild_settings(guild_id)
