"""Song pages: a server's choice to publish them, and what one page or gallery shows, nothing more."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PageSettings:
    """Pages are off until a manager turns them on; the gallery has its own unguessable id while it is on."""

    guild_id: int
    pages_on: bool = False
    gallery_id: str | None = None


@dataclass(frozen=True, slots=True)
class SongPage:
    """One published page: a posted song (or its whole song) with exactly the facts the page shows.

    `makers` are display names as they were when the song was posted, never user ids. `timeline_json` is the whole
    song's timeline (parts, seams, peaks), for a whole-song page; `whole_page_id` is a song's whole-song page.
    `pages_changed_at` is when the server's page settings or one of its pages' take-downs last changed (not shown:
    it tells a rendered page still true from one to redo).
    """

    page_id: str
    clip_id: str
    whole: bool
    guild_id: int
    title: str | None
    makers: tuple[str, ...]
    model: str | None
    duration: float | None
    audio_url: str | None
    image_url: str | None
    created_at: float
    channel_id: int
    message_id: int
    timeline_json: str | None
    whole_page_id: str | None = None
    pages_changed_at: float = 0.0


@dataclass(frozen=True, slots=True)
class LineageEntry:
    """A song a page's song extends: its title, where its child continued it, and its own page if it has one.

    A parent made on another server, or whose page its maker took down, is not shown: no title and no link, only
    the continue point.
    """

    title: str | None
    continue_at: float | None
    page_id: str | None
    shown: bool = True


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """A tile of a server's gallery: a published song page and its ⭐ count."""

    page_id: str
    title: str | None
    makers: tuple[str, ...]
    stars: int
