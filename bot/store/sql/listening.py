"""`/listen`: sessions saved for a restart (one row per server, rewritten as its queue moves), and the radio's
songs."""

from __future__ import annotations

import time

from bot.domain.records import ListenSessionRecord, SongRecord
from bot.store.rows import listen_session_from_row, listen_tracks_json, song_from_row
from bot.store.sql.backend import SqlBackend


class ListenQueries(SqlBackend):
    async def save_listen_session(self, session: ListenSessionRecord) -> None:
        await self._db.execute(
            """
            INSERT INTO listen_sessions
                (guild_id, voice_channel_id, text_channel_id, starter_id, tracks_json, position, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (guild_id) DO UPDATE SET
                voice_channel_id = excluded.voice_channel_id, text_channel_id = excluded.text_channel_id,
                starter_id = excluded.starter_id, tracks_json = excluded.tracks_json, position = excluded.position,
                updated_at = excluded.updated_at
            """,
            session.guild_id,
            session.voice_channel_id,
            session.text_channel_id,
            session.starter_id,
            listen_tracks_json(session.tracks),
            session.position,
            time.time(),
        )

    async def listen_sessions(self) -> list[ListenSessionRecord]:
        rows = await self._db.all("SELECT * FROM listen_sessions ORDER BY guild_id")
        return [listen_session_from_row(row) for row in rows]

    async def delete_listen_session(self, guild_id: int) -> None:
        await self._db.execute("DELETE FROM listen_sessions WHERE guild_id = $1", guild_id)

    async def guild_songs(self, guild_id: int, offset: int, limit: int) -> list[SongRecord]:
        rows = await self._db.all(
            f"""
            SELECT * FROM songs WHERE guild_id = $1
            ORDER BY created_at DESC, {self.SONG_ORDER} DESC LIMIT $2 OFFSET $3
            """,
            guild_id,
            limit,
            offset,
        )
        return [song_from_row(row) for row in rows]
