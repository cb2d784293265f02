"""Whole-song posts: a claim that succeeds exactly once (retaken only when stale), then the post or the failure."""

from __future__ import annotations

import time

from bot.domain.records import WholeSongRecord, WholeSongState
from bot.store.rows import whole_song_from_row
from bot.store.sql.backend import SqlBackend


class WholeSongQueries(SqlBackend):
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
        """Take the one right to build and post a clip's whole song; False while it is posted or being built.

        One statement: an insert, or an update of a row that failed or whose claim is older than `stale_after`
        seconds at `now` (its builder died), so two presses at once, in one process or several, cannot both win.
        """
        now = time.time() if now is None else now
        changed = await self._db.execute(
            """
            INSERT INTO whole_songs (clip_id, state, guild_id, channel_id, requested_by, claimed_at, updated_at)
            VALUES ($1, 'building', $2, $3, $4, $5, $5)
            ON CONFLICT (clip_id) DO UPDATE SET
                state = 'building', guild_id = excluded.guild_id, channel_id = excluded.channel_id,
                requested_by = excluded.requested_by, claimed_at = excluded.claimed_at, error = NULL,
                updated_at = excluded.updated_at
            WHERE whole_songs.state = 'failed' OR (whole_songs.state = 'building' AND whole_songs.claimed_at < $6)
            """,
            clip_id,
            guild_id,
            channel_id,
            requested_by,
            now,
            now - stale_after,
        )
        return changed == 1

    async def get_whole_song(self, clip_id: str) -> WholeSongRecord | None:
        row = await self._db.one("SELECT * FROM whole_songs WHERE clip_id = $1", clip_id)
        return whole_song_from_row(row) if row else None

    async def record_whole_song(self, clip_id: str, *, channel_id: int, message_id: int, timeline_json: str) -> bool:
        """The whole song is posted; False (nothing written) when the claim was lost meanwhile."""
        changed = await self._db.execute(
            """
            UPDATE whole_songs SET state = $2, channel_id = $3, message_id = $4, posted_at = $5, timeline_json = $6,
                                   error = NULL, updated_at = $5
            WHERE clip_id = $1 AND state = 'building'
            """,
            clip_id,
            WholeSongState.POSTED.value,
            channel_id,
            message_id,
            time.time(),
            timeline_json,
        )
        return changed == 1

    async def release_whole_song(self, clip_id: str, error: str) -> None:
        """The build or the post failed: keep why, and let the next press try again."""
        await self._db.execute(
            "UPDATE whole_songs SET state = $2, error = $3, updated_at = $4 WHERE clip_id = $1 AND state = 'building'",
            clip_id,
            WholeSongState.FAILED.value,
            error,
            time.time(),
        )
