"""Song pages as use cases: a server's managers turn pages and the gallery on and off, a result's requester takes
its pages down, a server that removed Encore (even while it was offline) has them turned off, and a post gets its
page. Permission checks and
the posts themselves stay with the Discord side; serving the pages is the web server's."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from bot.domain.pages import PageSettings
from bot.media.cache import AudioCache
from bot.store import PageStore


def new_public_id() -> str:
    """128 random bits, URL-safe: an unguessable page or gallery id, unrelated to any clip or server id."""
    return secrets.token_urlsafe(16)


class SongPageChoices:
    """A server's page settings and a result's take-down."""

    def __init__(self, store: PageStore) -> None:
        self._store = store

    async def settings(self, guild_id: int) -> PageSettings:
        return await self._store.page_settings(guild_id)

    async def change(self, guild_id: int, *, pages: bool | None = None, gallery: bool | None = None) -> PageSettings:
        """Pages on or off; the gallery off, or on under a new id (kept while it stays on). Returns the settings."""
        if pages is not None:
            await self._store.set_pages_on(guild_id, pages)
        current = await self._store.page_settings(guild_id)
        if gallery is not None and gallery != (current.gallery_id is not None):
            current = await self._store.set_gallery(guild_id, new_public_id() if gallery else None)
        return current

    async def take_down(self, task_id: int) -> int:
        """Take a result's pages (its songs' and their whole songs') down for good; how many were up."""
        return await self._store.take_down_pages(task_id)

    async def server_left(self, guild_id: int) -> None:
        """The server removed Encore: its pages and gallery stop answering (its managers may turn them on again)."""
        await self.change(guild_id, pages=False, gallery=False)

    async def servers_gone(self, present: Collection[int], served_here: Callable[[int], bool]) -> list[int]:
        """On connecting: the servers publishing pages that Discord no longer lists among Encore's (`present`), of
        those this process's shards carry, removed Encore while it was offline; each is treated as if it had just
        done so. Returns their ids."""
        publishing = await self._store.servers_publishing()
        gone = [guild for guild in publishing if served_here(guild) and guild not in present]
        for guild in gone:
            await self.server_left(guild)
        return gone


class PagePublisher:
    """Giving a post its page, while its server has pages on: the Discord side reserves the page before posting
    (the Page button needs its link) and records the post once made, which is when the page starts answering."""

    def __init__(self, store: PageStore, public_url: str, whole_songs: AudioCache | None = None) -> None:
        self._store = store
        self._public_url = public_url.rstrip("/")
        self._whole_songs = whole_songs

    def url(self, page_id: str) -> str:
        return f"{self._public_url}/s/{page_id}"

    def gallery_url(self, gallery_id: str) -> str:
        return f"{self._public_url}/g/{gallery_id}"

    async def enabled(self, guild_id: int) -> bool:
        return (await self._store.page_settings(guild_id)).pages_on

    async def reserve(
        self,
        clip_id: str,
        *,
        whole: bool,
        guild_id: int | None,
        task_id: int | None,
        makers: Sequence[str],
        model: str | None,
    ) -> str | None:
        """The page id for the post of a clip (or its whole song); None when it gets no page."""
        if guild_id is None:
            return None
        return await self._store.reserve_page(
            new_public_id(),
            clip_id=clip_id,
            whole=whole,
            guild_id=guild_id,
            task_id=task_id,
            makers=makers,
            model=model,
        )

    async def posted(self, page_id: str, channel_id: int, message_id: int) -> None:
        await self._store.record_page_message(page_id, channel_id, message_id)

    async def keep_whole_song(self, clip_id: str, audio: Path) -> None:
        """Keep the whole song's mp3 for its page, which plays it from there (the post's copy expires).

        Whole songs are kept apart from the clips' cache, whose traffic would soon push them out; only other whole
        songs do, past `PAGE_AUDIO_MAX_MB`.
        """
        if self._whole_songs is not None:
            await asyncio.to_thread(self._whole_songs.put, clip_id, audio)
