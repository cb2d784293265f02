"""Song pages: a server's choice to publish them, one page per posted song or whole song, take-downs and galleries.

Each read selects only what a page shows (no user ids, no request text), and a page answers only while its
server's pages are on, it is not taken down and its post was made. A server's `page_settings.updated_at` moves on
every change of its settings and every take-down of one of its pages: the web server keeps a rendered page only
while that stamp, read with the page, stays the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from bot.domain.pages import GalleryEntry, LineageEntry, PageSettings, SongPage
from bot.store.rows import MAX_CHAIN_LENGTH, Row
from bot.store.sql.backend import SqlBackend

# The conditions under which a page answers, on `song_pages AS p`.
_VISIBLE = """
p.taken_down_at IS NULL AND p.message_id IS NOT NULL
AND EXISTS (SELECT 1 FROM page_settings s WHERE s.guild_id = p.guild_id AND s.pages_on)
"""

_ENTRY = """
SELECT p.page_id, songs.title, p.makers_json,
       (SELECT COUNT(*) FROM stars WHERE stars.task_id = p.task_id) AS stars
FROM song_pages p JOIN songs ON songs.clip_id = p.clip_id
"""


class PageQueries(SqlBackend):
    async def page_settings(self, guild_id: int) -> PageSettings:
        row = await self._db.one("SELECT pages_on, gallery_id FROM page_settings WHERE guild_id = $1", guild_id)
        if row is None:
            return PageSettings(guild_id)
        return PageSettings(guild_id, pages_on=bool(row["pages_on"]), gallery_id=row["gallery_id"])

    async def servers_publishing(self) -> list[int]:
        rows = await self._db.all(
            "SELECT guild_id FROM page_settings WHERE pages_on OR gallery_id IS NOT NULL ORDER BY guild_id"
        )
        return [int(row["guild_id"]) for row in rows]

    async def set_pages_on(self, guild_id: int, on: bool) -> PageSettings:
        return await self._set_page_setting(guild_id, "pages_on", on)

    async def set_gallery(self, guild_id: int, gallery_id: str | None) -> PageSettings:
        return await self._set_page_setting(guild_id, "gallery_id", gallery_id)

    async def _set_page_setting(self, guild_id: int, column: str, value: bool | str | None) -> PageSettings:
        """Set one of a server's page settings (`column`, one of ours, never input), and return them all."""
        await self._db.execute(
            f"""
            INSERT INTO page_settings (guild_id, {column}, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (guild_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at
            """,
            guild_id,
            value,
            time.time(),
        )
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
        await self._db.execute(
            """
            INSERT INTO song_pages (page_id, clip_id, whole, guild_id, task_id, makers_json, model, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (clip_id, whole) DO NOTHING
            """,
            page_id,
            clip_id,
            whole,
            guild_id,
            task_id,
            json.dumps(list(makers), ensure_ascii=False),
            model,
            time.time(),
        )
        row = await self._db.one(
            "SELECT page_id, taken_down_at FROM song_pages WHERE clip_id = $1 AND whole = $2", clip_id, whole
        )
        return str(row["page_id"]) if row and row["taken_down_at"] is None else None

    async def record_page_message(self, page_id: str, channel_id: int, message_id: int) -> None:
        await self._db.execute(
            "UPDATE song_pages SET channel_id = $1, message_id = $2 WHERE page_id = $3 AND taken_down_at IS NULL",
            channel_id,
            message_id,
            page_id,
        )

    async def song_page(self, page_id: str) -> SongPage | None:
        row = await self._db.one(
            f"""
            SELECT p.page_id, p.clip_id, p.whole, p.guild_id, p.makers_json, p.model, p.created_at, p.channel_id,
                   p.message_id, songs.title, songs.duration, songs.audio_url, songs.image_url,
                   CASE WHEN p.whole THEN w.timeline_json END AS timeline_json,
                   (SELECT o.page_id FROM song_pages o
                    WHERE o.clip_id = p.clip_id AND o.whole AND NOT p.whole AND o.taken_down_at IS NULL
                      AND o.message_id IS NOT NULL) AS whole_page_id,
                   (SELECT s.updated_at FROM page_settings s WHERE s.guild_id = p.guild_id) AS pages_changed_at
            FROM song_pages p JOIN songs ON songs.clip_id = p.clip_id
            LEFT JOIN whole_songs w ON w.clip_id = p.clip_id
            WHERE p.page_id = $1 AND {_VISIBLE}
            """,
            page_id,
        )
        return _page(row) if row else None

    async def page_lineage(self, clip_id: str, guild_id: int) -> list[LineageEntry]:
        rows = await self._db.all(
            f"""
            WITH RECURSIVE chain(clip_id, parent_clip_id, continue_at, depth) AS (
                SELECT clip_id, parent_clip_id, continue_at, 0 FROM songs WHERE clip_id = $1
                UNION ALL
                SELECT songs.clip_id, songs.parent_clip_id, songs.continue_at, chain.depth + 1
                FROM chain JOIN songs ON songs.clip_id = chain.parent_clip_id
                WHERE chain.depth < {MAX_CHAIN_LENGTH}
            )
            SELECT songs.title, child.continue_at, songs.guild_id,
                   EXISTS (SELECT 1 FROM song_pages t WHERE t.clip_id = chain.clip_id AND NOT t.whole
                                                            AND t.taken_down_at IS NOT NULL) AS taken_down,
                   (SELECT p.page_id FROM song_pages p
                    WHERE p.clip_id = chain.clip_id AND NOT p.whole AND p.guild_id = $2 AND {_VISIBLE}) AS page_id
            FROM chain JOIN songs ON songs.clip_id = chain.clip_id
            JOIN chain child ON child.parent_clip_id = chain.clip_id AND child.depth = chain.depth - 1
            WHERE chain.depth > 0
            ORDER BY chain.depth
            """,
            clip_id,
            guild_id,
        )
        return [
            LineageEntry(row["title"], row["continue_at"], row["page_id"])
            if row["guild_id"] == guild_id and not row["taken_down"]
            else LineageEntry(None, row["continue_at"], None, shown=False)
            for row in rows
        ]

    async def take_down_pages(self, task_id: int) -> int:
        """The task's pages, and the pages of every whole song built on one of its songs (its audio is in them);
        their servers' stamp moves with them, so no rendered page that names them is served again."""
        now = time.time()
        async with self._db.transaction() as db:
            taken = await db.execute(
                f"""
                UPDATE song_pages SET taken_down_at = $1
                WHERE taken_down_at IS NULL AND (task_id = $2 OR (whole AND clip_id IN (
                    WITH RECURSIVE built_on(clip_id, depth) AS (
                        SELECT clip_id, 0 FROM songs WHERE task_id = $2
                        UNION ALL
                        SELECT songs.clip_id, built_on.depth + 1
                        FROM built_on JOIN songs ON songs.parent_clip_id = built_on.clip_id
                        WHERE built_on.depth < {MAX_CHAIN_LENGTH}
                    )
                    SELECT clip_id FROM built_on
                )))
                """,
                now,
                task_id,
            )
            if taken:
                await db.execute(
                    """
                    UPDATE page_settings SET updated_at = $1
                    WHERE guild_id IN (SELECT guild_id FROM song_pages WHERE taken_down_at = $1)
                    """,
                    now,
                )
        return taken

    async def gallery(
        self, gallery_id: str, *, since: float, limit: int
    ) -> tuple[int, list[GalleryEntry], list[GalleryEntry]] | None:
        guild = await self._db.value(
            "SELECT guild_id FROM page_settings WHERE gallery_id = $1 AND pages_on", gallery_id
        )
        if guild is None:
            return None
        guild_id = int(guild)
        showcase = await self._db.all(
            f"""
            {_ENTRY} JOIN tasks ON tasks.id = p.task_id
            WHERE p.guild_id = $1 AND NOT p.whole AND tasks.showcase_message_id IS NOT NULL AND {_VISIBLE}
            ORDER BY tasks.showcased_at DESC, p.page_id LIMIT $2
            """,
            guild_id,
            limit,
        )
        top = await self._db.all(
            f"""
            {_ENTRY}
            WHERE p.guild_id = $1 AND NOT p.whole AND {_VISIBLE}
              AND EXISTS (SELECT 1 FROM stars WHERE stars.task_id = p.task_id AND stars.created_at >= $2)
            ORDER BY (SELECT COUNT(*) FROM stars WHERE stars.task_id = p.task_id AND stars.created_at >= $2) DESC,
                     p.created_at DESC, p.page_id
            LIMIT $3
            """,
            guild_id,
            since,
            limit,
        )
        return guild_id, [_entry(row) for row in showcase], [_entry(row) for row in top]


def _page(row: Row) -> SongPage:
    return SongPage(
        page_id=row["page_id"],
        clip_id=row["clip_id"],
        whole=bool(row["whole"]),
        guild_id=row["guild_id"],
        title=row["title"],
        makers=_names(row["makers_json"]),
        model=row["model"],
        duration=row["duration"],
        audio_url=row["audio_url"],
        image_url=row["image_url"],
        created_at=row["created_at"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        timeline_json=row["timeline_json"],
        whole_page_id=row["whole_page_id"],
        pages_changed_at=row["pages_changed_at"],
    )


def _entry(row: Row) -> GalleryEntry:
    return GalleryEntry(row["page_id"], row["title"], _names(row["makers_json"]), int(row["stars"]))


def _names(text: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in json.loads(text)) if text else ()
