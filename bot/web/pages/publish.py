"""Giving a post its page: the Discord side reserves the page before posting (the Page button needs its link) and
records the post once made, which is when the page starts answering."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bot.media.cache import AudioCache, whole_song_key
from bot.service.pages import new_public_id
from bot.store import PageStore


class PagePublisher:
    """Page ids and links for posts, while a server has its pages on."""

    def __init__(self, store: PageStore, public_url: str, cache: AudioCache | None = None) -> None:
        self._store = store
        self._public_url = public_url.rstrip("/")
        self._cache = cache

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
        """Keep the whole song's mp3 in the audio cache: its page plays it from there (the post's copy expires)."""
        if self._cache is not None:
            await asyncio.to_thread(self._cache.put, whole_song_key(clip_id), audio)
