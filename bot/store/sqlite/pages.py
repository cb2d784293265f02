"""Song pages on SQLite: the shared queries of `bot.store.pages`, run through aiosqlite."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.domain.pages import GalleryEntry, LineageEntry, PageSettings, SongPage
from bot.store import pages as sql
from bot.store.sqlite.connection import SqliteConnection


class SqlitePages(SqliteConnection):
    async def page_settings(self, guild_id: int) -> PageSettings:
        return sql.settings_from_row(guild_id, await self._one(sql.SETTINGS, (guild_id,)))

    async def set_pages_on(self, guild_id: int, on: bool) -> PageSettings:
        await self._write(sql.SET_PAGES_ON, (guild_id, on, time.time()))
        return await self.page_settings(guild_id)

    async def set_gallery(self, guild_id: int, gallery_id: str | None) -> PageSettings:
        await self._write(sql.SET_GALLERY, (guild_id, gallery_id, time.time()))
        return await self.page_settings(guild_id)

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
        if not (await self.page_settings(guild_id)).pages_on:
            return None
        values = (page_id, clip_id, whole, guild_id, task_id, sql.makers_json(makers), model, time.time())
        await self._write(sql.INSERT_PAGE, values)
        row = await self._one(sql.PAGE_OF_CLIP, (clip_id, whole))
        return str(row["page_id"]) if row and row["taken_down_at"] is None else None

    async def record_page_message(self, page_id: str, channel_id: int, message_id: int) -> None:
        await self._write(sql.RECORD_MESSAGE, (channel_id, message_id, page_id))

    async def song_page(self, page_id: str) -> SongPage | None:
        row = await self._one(sql.PAGE, (page_id,))
        return sql.page_from_row(row) if row else None

    async def page_lineage(self, clip_id: str, guild_id: int) -> list[LineageEntry]:
        return [sql.lineage_from_row(row) for row in await self._all(sql.LINEAGE, (clip_id, guild_id))]

    async def take_down_pages(self, task_id: int) -> int:
        return await self._write(sql.TAKE_DOWN_TASK, (time.time(), task_id))

    async def gallery(
        self, gallery_id: str, *, since: float, limit: int
    ) -> tuple[int, list[GalleryEntry], list[GalleryEntry]] | None:
        row = await self._one(sql.GALLERY_GUILD, (gallery_id,))
        if row is None:
            return None
        guild_id = int(row["guild_id"])
        showcase = await self._all(sql.SHOWCASE, (guild_id, limit))
        top = await self._all(sql.TOP_SINCE, (guild_id, since, since, limit))
        return guild_id, [sql.entry_from_row(r) for r in showcase], [sql.entry_from_row(r) for r in top]
