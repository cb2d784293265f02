"""Song pages on the web server: `/s/<id>` for a posted song or whole song, `/g/<id>` for a server's gallery.

Server-rendered HTML (Jinja2, every text escaped), one small stylesheet, no script and nothing from another
origin: the cover, the audio and the waveform picture are served from here. Audio comes from Encore's cache (with
Range requests, for seeking); a song not cached yet is fetched once through the guarded media fetcher, and a whole
song is played from the whole songs kept for pages apart from the clips' cache. Every
answer carries a strict Content-Security-Policy, an ETag and Cache-Control; each client address has a rate limit,
and requests in progress are bounded.

A page's HTML is rendered once and reused while its row (read on every request, so a take-down or pages turned off
answer 404 at once) and its server's stamp (moved by every settings change and take-down) stay the same, for at
most `RENDERED_PAGE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import re
import tempfile
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from aiohttp import web

from bot.audio.probe import probe_audio
from bot.audio.waveform import format_clock
from bot.config import LOOPBACK, Network
from bot.domain.pages import SongPage
from bot.domain.wholesong import WholeSongTimeline
from bot.media import MediaFetcher, MediaRefused, image_type
from bot.media.cache import AudioCache
from bot.store import PageStore
from bot.web.pages.guard import AddressLimiter, client_address
from bot.web.pages.picture import audio_picture, timeline_picture

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
PAGE_CACHE = "public, max-age=60"  # a page taken down is gone from caches within a minute
MEDIA_CACHE = "public, max-age=300"
STATIC_CACHE = "public, max-age=86400"
# An id is what `new_page_id` makes (22 URL-safe characters); anything else is refused before the database.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,43}")
RATE_PER_SECOND = 5.0
RATE_BURST = 40  # a page and its cover, picture, stylesheet and audio ranges, a few times over
MAX_IN_PROGRESS = 64
BUSY_WAIT_SECONDS = 2.0
MAX_COVER_BYTES = 4 * 1024 * 1024
COVER_CACHE_BYTES = 16 * 1024 * 1024
MAX_AUDIO_BYTES = 25 * 1024 * 1024
PICTURE_CACHE_ENTRIES = 64
MAX_PICTURES_AT_ONCE = 2  # decoding audio for a picture is CPU work: never more than this at once
GALLERY_SIZE = 12
RENDERED_PAGES = 512  # rendered pages kept (a few kB each), the least recently asked for dropped first
# How long a rendered page may be reused: what nothing in its row or its server's stamp tells (a parent's page
# posted since) shows within this; a take-down or a settings change shows at once.
RENDERED_PAGE_SECONDS = 10.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class TaggedBytes:
    """A body to serve, its content type, and its strong ETag (a hash of its bytes, computed once)."""

    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> TaggedBytes:
        return cls(body, content_type, hashlib.blake2b(body, digest_size=12).hexdigest())


class ByteBoundedCache:
    """Least recently used bodies by key, within a total size."""

    def __init__(self, max_bytes: int, max_entries: int = 1024) -> None:
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._items: OrderedDict[str, TaggedBytes] = OrderedDict()
        self._size = 0

    def get(self, key: str) -> TaggedBytes | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: str, item: TaggedBytes) -> None:
        if len(item.body) > self._max_bytes:
            return
        if old := self._items.pop(key, None):
            self._size -= len(old.body)
        self._items[key] = item
        self._size += len(item.body)
        while self._size > self._max_bytes or len(self._items) > self._max_entries:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped.body)


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """A page's HTML (with its ETag), with the row it was rendered from and until when it may be reused."""

    page: SongPage
    html: TaggedBytes
    until: float


class SongPages:
    """The routes of song pages and galleries, added to Encore's web server by `register`."""

    def __init__(
        self,
        store: PageStore,
        *,
        public_url: str,
        cache: AudioCache,
        whole_songs: AudioCache,
        media: MediaFetcher | None,
        limiter: AddressLimiter | None = None,
        trusted_proxies: Sequence[Network] = LOOPBACK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._public_url = public_url.rstrip("/")
        self._cache = cache
        self._whole_songs = whole_songs
        self._media = media
        self._limiter = limiter or AddressLimiter(RATE_PER_SECOND, RATE_BURST)
        self._trusted_proxies = tuple(trusted_proxies)
        self._clock = clock
        self._in_progress = asyncio.Semaphore(MAX_IN_PROGRESS)
        self._pictures_at_once = asyncio.Semaphore(MAX_PICTURES_AT_ONCE)
        self._covers = ByteBoundedCache(COVER_CACHE_BYTES)
        self._pictures = ByteBoundedCache(PICTURE_CACHE_ENTRIES * 512 * 1024, PICTURE_CACHE_ENTRIES)
        self._fetching: dict[str, asyncio.Lock] = {}
        self._looking_up: dict[str, asyncio.Future[RenderedPage | None]] = {}
        self._rendered: OrderedDict[str, RenderedPage] = OrderedDict()
        templates = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.web.pages", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        templates.filters["clock"] = format_clock
        self._song_template = templates.get_template("song.html")
        self._gallery_template = templates.get_template("gallery.html")
        static = resources.files("bot.web.pages").joinpath("static")
        self._static = {
            name: TaggedBytes.of(static.joinpath(name).read_bytes(), content_type)
            for name, content_type in (("pages.css", "text/css; charset=utf-8"), ("icon.svg", "image/svg+xml"))
        }

    def register(self, app: web.Application) -> None:
        add = app.router.add_get
        add("/s/{page_id}", self._guarded(self._song_page))
        add("/s/{page_id}/audio", self._guarded(self._audio))
        add("/s/{page_id}/cover", self._guarded(self._cover))
        add("/s/{page_id}/waveform.png", self._guarded(self._waveform))
        add("/g/{gallery_id}", self._guarded(self._gallery))
        add("/pages.css", self._guarded(self._stylesheet))
        add("/icon.svg", self._guarded(self._icon))

    def _guarded(self, handler: Handler) -> Handler:
        """Rate limit per address, then a bounded number in progress; the security headers on every answer."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            wait = self._limiter.allow(client_address(request, self._trusted_proxies))
            if wait is not None:
                response: web.StreamResponse = _text(429, "Too many requests: slow down a little.")
                response.headers["Retry-After"] = str(max(1, round(wait)))
            else:
                try:
                    async with asyncio.timeout(BUSY_WAIT_SECONDS):
                        await self._in_progress.acquire()
                except TimeoutError:
                    response = _text(503, "Encore is busy: try again in a moment.")
                    response.headers["Retry-After"] = "5"
                else:
                    try:
                        response = await handler(request)
                    finally:
                        self._in_progress.release()
            response.headers.update(SECURITY_HEADERS)
            return response

        return guarded

    async def _page(self, request: web.Request) -> SongPage | None:
        page_id = request.match_info["page_id"]
        return await self._store.song_page(page_id) if ID_PATTERN.fullmatch(page_id) else None

    async def _song_page(self, request: web.Request) -> web.StreamResponse:
        """The page's HTML. Requests for a page that arrive while it is being looked up share that look-up (a link
        shared in a busy channel is opened by many at once); each look-up reads the page's row, one round trip that
        tells whether it is still up and whether anything it shows changed, and renders it again only then."""
        page_id = request.match_info["page_id"]
        if not ID_PATTERN.fullmatch(page_id):
            return _not_found()
        running = self._looking_up.get(page_id)
        if running is None:
            running = asyncio.ensure_future(self._current_page(page_id))
            self._looking_up[page_id] = running
            running.add_done_callback(lambda _: self._looking_up.pop(page_id, None))
        rendered = await asyncio.shield(running)
        if rendered is None:
            return _not_found()
        return _answer(request, rendered.html, PAGE_CACHE)

    async def _current_page(self, page_id: str) -> RenderedPage | None:
        page = await self._store.song_page(page_id)
        if page is None:
            self._rendered.pop(page_id, None)
            return None
        rendered = self._rendered.get(page_id)
        if rendered is None or rendered.page != page or rendered.until <= self._clock():
            return await self._render_song_page(page)
        self._rendered.move_to_end(page_id)
        return rendered

    async def _render_song_page(self, page: SongPage) -> RenderedPage:
        """Render the page and keep it, in place of any older rendering of it."""
        lineage = await self._store.page_lineage(page.clip_id, page.guild_id)
        parts = _part_count(page.timeline_json)
        title = page.title or "Untitled"
        made = datetime.datetime.fromtimestamp(page.created_at, datetime.UTC)
        base = f"{self._public_url}/s/{page.page_id}"
        makers = ", ".join(page.makers)
        description = " · ".join(
            text
            for text in (
                f"the whole song of {parts} parts" if page.whole else "",
                format_clock(page.duration) if page.duration and not page.whole else "",
                f"by {makers}" if makers else "",
                "made with Encore",
            )
            if text
        )
        html = self._song_template.render(
            page=page,
            title=title,
            heading=f"{title} · the whole song" if page.whole else title,
            description=description,
            makers=makers,
            lineage=lineage,
            parts=parts,
            made_iso=made.isoformat(timespec="seconds"),
            made_text=f"{made.day} {made:%B %Y}",
            url=base,
            cover_url=f"{base}/cover" if page.image_url else f"{base}/waveform.png",
            has_cover=bool(page.image_url),
            audio_url=f"{base}/audio",
            whole_audio=f"/s/{page.whole_page_id}/audio" if page.whole_page_id else None,
            discord_url=f"https://discord.com/channels/{page.guild_id}/{page.channel_id}/{page.message_id}",
        )
        rendered = RenderedPage(page, _html_body(html), self._clock() + RENDERED_PAGE_SECONDS)
        self._rendered.pop(page.page_id, None)
        self._rendered[page.page_id] = rendered
        while len(self._rendered) > RENDERED_PAGES:
            self._rendered.popitem(last=False)
        return rendered

    async def _gallery(self, request: web.Request) -> web.StreamResponse:
        gallery_id = request.match_info["gallery_id"]
        if not ID_PATTERN.fullmatch(gallery_id):
            return _not_found()
        now = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        found = await self._store.gallery(gallery_id, since=month.timestamp(), limit=GALLERY_SIZE)
        if found is None:
            return _not_found()
        _, showcase, top = found
        html = self._gallery_template.render(
            showcase=showcase,
            top=top,
            month=f"{month:%B %Y}",
            url=f"{self._public_url}/g/{gallery_id}",
        )
        return _html(request, html)

    async def _audio(self, request: web.Request) -> web.StreamResponse:
        """The song's mp3 from the cache (aiohttp's FileResponse answers Range and conditional requests)."""
        page = await self._page(request)
        if page is None:
            return _not_found()
        path = await self._audio_path(page)
        if path is None:
            return _text(404, "This song's audio is not available.")
        return web.FileResponse(path, headers={"Cache-Control": MEDIA_CACHE, "Content-Type": "audio/mpeg"})

    async def _audio_path(self, page: SongPage) -> Path | None:
        """The kept mp3: a whole song's from the whole songs kept for pages; a song's from the clips' cache, fetched
        from its provider once when missing."""
        if page.whole:
            return await asyncio.to_thread(self._whole_songs.find, page.clip_id)
        key = page.clip_id
        path = await asyncio.to_thread(self._cache.find, key)
        if path is not None or not page.audio_url or self._media is None:
            return path
        lock = self._fetching.setdefault(key, asyncio.Lock())
        async with lock:
            path = await asyncio.to_thread(self._cache.find, key)
            if path is None:
                path = await self._fetch_audio(key, page.audio_url)
        self._fetching.pop(key, None)
        return path

    async def _fetch_audio(self, key: str, url: str) -> Path | None:
        assert self._media is not None
        with tempfile.TemporaryDirectory(prefix="encore-page-") as folder:
            download = Path(folder) / "audio.mp3"
            try:
                await self._media.fetch(url, download, max_bytes=MAX_AUDIO_BYTES, kind="audio")
            except MediaRefused as refused:
                log.info("page audio of %s not fetched: %s", key, refused.reason)
                return None
            info = await asyncio.to_thread(probe_audio, download)
            if info is None or info.container != "mp3":
                log.info("page audio of %s not kept: not an MP3 (%s)", key, info.container if info else "unreadable")
                return None
            try:
                await asyncio.to_thread(self._cache.put, key, download)
            except OSError as error:  # a cache that cannot be written means "not cached", never a failed answer
                log.warning("page audio of %s could not be cached: %s", key, error)
                return None
        return await asyncio.to_thread(self._cache.find, key)

    async def _cover(self, request: web.Request) -> web.StreamResponse:
        page = await self._page(request)
        if page is None or not page.image_url:
            return _not_found()
        found = self._covers.get(page.image_url)
        if found is None and self._media is not None:
            found = await self._fetch_cover(page.image_url)
        if found is None:
            return _text(404, "This song's cover is not available.")
        return _answer(request, found, MEDIA_CACHE)

    async def _fetch_cover(self, url: str) -> TaggedBytes | None:
        assert self._media is not None
        with tempfile.TemporaryDirectory(prefix="encore-page-") as folder:
            download = Path(folder) / "cover"
            try:
                await self._media.fetch(url, download, max_bytes=MAX_COVER_BYTES, kind="image")
            except MediaRefused as refused:
                log.info("page cover not fetched: %s", refused.reason)
                return None
            body = await asyncio.to_thread(download.read_bytes)
        cover = TaggedBytes.of(body, image_type(body))
        self._covers.put(url, cover)
        return cover

    async def _waveform(self, request: web.Request) -> web.StreamResponse:
        page = await self._page(request)
        if page is None:
            return _not_found()
        found = self._pictures.get(page.page_id)
        if found is None:
            picture = await self._picture(page)
            if picture is None:
                return _text(404, "This song's waveform is not available.")
            found = TaggedBytes.of(picture, "image/png")
            self._pictures.put(page.page_id, found)
        return _answer(request, found, MEDIA_CACHE)

    async def _picture(self, page: SongPage) -> bytes | None:
        if page.whole and page.timeline_json:
            timeline = page.timeline_json
            async with self._pictures_at_once:
                return await asyncio.to_thread(timeline_picture, timeline)
        path = await self._audio_path(page)
        if path is None:
            return None
        async with self._pictures_at_once:
            return await asyncio.to_thread(audio_picture, path)

    async def _stylesheet(self, request: web.Request) -> web.StreamResponse:
        return _answer(request, self._static["pages.css"], STATIC_CACHE)

    async def _icon(self, request: web.Request) -> web.StreamResponse:
        return _answer(request, self._static["icon.svg"], STATIC_CACHE)


def _part_count(timeline_json: str | None) -> int:
    if not timeline_json:
        return 1
    return len(WholeSongTimeline.from_json(timeline_json).spans)


def _html(request: web.Request, html: str) -> web.StreamResponse:
    return _answer(request, _html_body(html), PAGE_CACHE)


def _html_body(html: str) -> TaggedBytes:
    return TaggedBytes.of(html.encode(), "text/html; charset=utf-8")


def _answer(request: web.Request, item: TaggedBytes, cache_control: str) -> web.StreamResponse:
    """`item` with its ETag; 304 when the client already holds it."""
    etag = f'"{item.etag}"'
    if request.if_none_match and any(tag.value == item.etag for tag in request.if_none_match):
        return web.Response(status=304, headers={"ETag": etag, "Cache-Control": cache_control})
    return web.Response(
        body=item.body, headers={"Content-Type": item.content_type, "ETag": etag, "Cache-Control": cache_control}
    )


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers={"Cache-Control": "no-store"})


def _not_found() -> web.Response:
    """One answer for an unknown id, a page taken down and pages turned off: nothing tells them apart."""
    return _text(404, "There is no page here.")
