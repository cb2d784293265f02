"""Song pages' SQL, written once for both backends: each backend runs these named queries through its own driver.

Queries use `?` placeholders; `numbered` turns them into PostgreSQL's `$1, $2, …`. Each read selects only what a
page shows (no user ids, no request text), and a page answers only while its server's pages are on, it is not
taken down and its post was made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.domain.pages import GalleryEntry, LineageEntry, PageSettings, SongPage
from bot.store.rows import MAX_CHAIN_LENGTH, Row

SETTINGS = "SELECT guild_id, pages_on, gallery_id FROM page_settings WHERE guild_id = ?"

SET_PAGES_ON = """
INSERT INTO page_settings (guild_id, pages_on, updated_at) VALUES (?, ?, ?)
ON CONFLICT (guild_id) DO UPDATE SET pages_on = excluded.pages_on, updated_at = excluded.updated_at
"""

SET_GALLERY = """
INSERT INTO page_settings (guild_id, gallery_id, updated_at) VALUES (?, ?, ?)
ON CONFLICT (guild_id) DO UPDATE SET gallery_id = excluded.gallery_id, updated_at = excluded.updated_at
"""

INSERT_PAGE = """
INSERT INTO song_pages (page_id, clip_id, whole, guild_id, task_id, makers_json, model, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (clip_id, whole) DO NOTHING
"""

PAGE_OF_CLIP = "SELECT page_id, taken_down_at FROM song_pages WHERE clip_id = ? AND whole = ?"

RECORD_MESSAGE = "UPDATE song_pages SET channel_id = ?, message_id = ? WHERE page_id = ? AND taken_down_at IS NULL"

TAKE_DOWN_TASK = "UPDATE song_pages SET taken_down_at = ? WHERE task_id = ? AND taken_down_at IS NULL"

# The conditions under which a page answers, on `song_pages AS p`.
_VISIBLE = """
p.taken_down_at IS NULL AND p.message_id IS NOT NULL
AND EXISTS (SELECT 1 FROM page_settings s WHERE s.guild_id = p.guild_id AND s.pages_on)
"""

PAGE = f"""
SELECT p.page_id, p.clip_id, p.whole, p.guild_id, p.makers_json, p.model, p.created_at, p.channel_id, p.message_id,
       songs.title, songs.duration, songs.audio_url, songs.image_url,
       CASE WHEN p.whole THEN w.timeline_json END AS timeline_json,
       (SELECT o.page_id FROM song_pages o
        WHERE o.clip_id = p.clip_id AND o.whole AND NOT p.whole AND o.taken_down_at IS NULL
          AND o.message_id IS NOT NULL) AS whole_page_id
FROM song_pages p JOIN songs ON songs.clip_id = p.clip_id
LEFT JOIN whole_songs w ON w.clip_id = p.clip_id
WHERE p.page_id = ? AND {_VISIBLE}
"""

# The songs a clip extends, nearest first, with each one's visible page (its song page, not its whole song's).
LINEAGE = f"""
WITH RECURSIVE chain(clip_id, parent_clip_id, continue_at, depth) AS (
    SELECT clip_id, parent_clip_id, continue_at, 0 FROM songs WHERE clip_id = ?
    UNION ALL
    SELECT songs.clip_id, songs.parent_clip_id, songs.continue_at, chain.depth + 1
    FROM chain JOIN songs ON songs.clip_id = chain.parent_clip_id
    WHERE chain.depth < {MAX_CHAIN_LENGTH}
)
SELECT songs.title, child.continue_at,
       (SELECT p.page_id FROM song_pages p
        WHERE p.clip_id = chain.clip_id AND NOT p.whole AND p.guild_id = ? AND {_VISIBLE}) AS page_id
FROM chain JOIN songs ON songs.clip_id = chain.clip_id
JOIN chain child ON child.parent_clip_id = chain.clip_id AND child.depth = chain.depth - 1
WHERE chain.depth > 0
ORDER BY chain.depth
"""

GALLERY_GUILD = "SELECT guild_id FROM page_settings WHERE gallery_id = ? AND pages_on"

_ENTRY = """
SELECT p.page_id, songs.title, p.makers_json,
       (SELECT COUNT(*) FROM stars WHERE stars.task_id = p.task_id) AS stars
FROM song_pages p JOIN songs ON songs.clip_id = p.clip_id
"""

SHOWCASE = f"""
{_ENTRY} JOIN tasks ON tasks.id = p.task_id
WHERE p.guild_id = ? AND NOT p.whole AND tasks.showcase_message_id IS NOT NULL AND {_VISIBLE}
ORDER BY tasks.showcased_at DESC, p.page_id LIMIT ?
"""

TOP_SINCE = f"""
{_ENTRY}
WHERE p.guild_id = ? AND NOT p.whole AND {_VISIBLE}
  AND EXISTS (SELECT 1 FROM stars WHERE stars.task_id = p.task_id AND stars.created_at >= ?)
ORDER BY (SELECT COUNT(*) FROM stars WHERE stars.task_id = p.task_id AND stars.created_at >= ?) DESC,
         p.created_at DESC, p.page_id
LIMIT ?
"""

_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (the queries here hold no `?` inside a literal)."""
    counter = iter(range(1, 1000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def makers_json(makers: Sequence[str]) -> str:
    return json.dumps(list(makers), ensure_ascii=False)


def settings_from_row(guild_id: int, row: Row | None) -> PageSettings:
    if row is None:
        return PageSettings(guild_id)
    return PageSettings(guild_id, pages_on=bool(row["pages_on"]), gallery_id=row["gallery_id"])


def page_from_row(row: Row) -> SongPage:
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
    )


def lineage_from_row(row: Row) -> LineageEntry:
    return LineageEntry(title=row["title"], continue_at=row["continue_at"], page_id=row["page_id"])


def entry_from_row(row: Row) -> GalleryEntry:
    return GalleryEntry(
        page_id=row["page_id"], title=row["title"], makers=_names(row["makers_json"]), stars=int(row["stars"])
    )


def _names(text: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in json.loads(text)) if text else ()
