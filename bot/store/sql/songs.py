"""Songs: what each task made, a member's library, and the chain of extends behind a song."""

from __future__ import annotations

from bot.domain.records import SongRecord
from bot.store.rows import MAX_CHAIN_LENGTH, escape_like, song_from_row
from bot.store.sql.backend import SqlBackend


class SongQueries(SqlBackend):
    async def songs_of_task(self, task_id: int) -> list[SongRecord]:
        rows = await self._db.all(f"SELECT * FROM songs WHERE task_id = $1 ORDER BY {self.SONG_ORDER}", task_id)
        return [song_from_row(row) for row in rows]

    async def get_song(self, clip_id: str) -> SongRecord | None:
        row = await self._db.one("SELECT * FROM songs WHERE clip_id = $1", clip_id)
        return song_from_row(row) if row else None

    async def recent_songs(self, owner_id: int, search: str = "", limit: int = 25) -> list[SongRecord]:
        """The owner's newest songs whose title or id contains `search`, for autocomplete."""
        pattern = f"%{escape_like(search.strip().lower())}%"
        rows = await self._db.all(
            """
            SELECT * FROM songs WHERE owner_id = $1
              AND (lower(coalesce(title, '')) LIKE $2 ESCAPE '\\' OR clip_id LIKE $2 ESCAPE '\\')
            ORDER BY created_at DESC LIMIT $3
            """,
            owner_id,
            pattern,
            limit,
        )
        return [song_from_row(row) for row in rows]

    async def song_chain(self, clip_id: str) -> list[SongRecord]:
        """The song and every song it extends that Encore knows, the original first."""
        rows = await self._db.all(
            """
            WITH RECURSIVE chain(clip_id, parent_clip_id, depth) AS (
                SELECT clip_id, parent_clip_id, 0 FROM songs WHERE clip_id = $1
                UNION ALL
                SELECT songs.clip_id, songs.parent_clip_id, chain.depth + 1
                FROM chain JOIN songs ON songs.clip_id = chain.parent_clip_id
                WHERE chain.depth < $2
            )
            SELECT songs.* FROM chain JOIN songs ON songs.clip_id = chain.clip_id ORDER BY chain.depth DESC
            """,
            clip_id,
            MAX_CHAIN_LENGTH,
        )
        return [song_from_row(row) for row in rows]

    async def songs_page(self, guild_id: int, owner_id: int, offset: int, limit: int) -> tuple[list[SongRecord], int]:
        """One page of a member's songs made in a server, newest first, and how many there are in all."""
        rows = await self._db.all(
            f"""
            SELECT * FROM songs WHERE guild_id = $1 AND owner_id = $2
            ORDER BY created_at DESC, {self.SONG_ORDER} DESC LIMIT $3 OFFSET $4
            """,
            guild_id,
            owner_id,
            limit,
            offset,
        )
        total = await self._db.value(
            "SELECT COUNT(*) FROM songs WHERE guild_id = $1 AND owner_id = $2", guild_id, owner_id
        )
        return [song_from_row(row) for row in rows], int(total)
