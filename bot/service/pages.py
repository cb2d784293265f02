"""Who decides about song pages: a server's managers turn pages and the gallery on and off, a result's requester
takes its pages down, and a server that removed Encore has them turned off. Permission checks stay with the Discord
side, which knows roles."""

from __future__ import annotations

import secrets

from bot.domain.pages import PageSettings
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
