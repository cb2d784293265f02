"""A published song site for the page tests: a real store, real MP3s with dynamics, a real whole song built by the
stitcher, pages made through the publisher, and the page routes served on 127.0.0.1 — plus a fake of the provider's
media host (covers and audio), the one remote peer."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiohttp import web
from PIL import Image

from bot.audio.stitch import Part, SongTags, stitch
from bot.config import LOOPBACK, Network
from bot.domain.models import Clip, ExtendRequest, GenerateRequest, Requester
from bot.domain.wholesong import Span, WholeSongTimeline
from bot.media import MediaFetcher, parse_origin
from bot.media.cache import AudioCache
from bot.service.pages import PagePublisher
from bot.store.sqlite import SqliteStore
from bot.web.pages import SongPages
from bot.web.pages.guard import AddressLimiter
from tests.fakes.cdn import FakeSunoCdn
from tests.support.audio import make_tone_mp3
from tests.support.songs import make_songs

GUILD = 310_000_000_000_000_031
MEMBER = 110_000_000_000_000_011  # a user id: it must never appear on a page
ROOT = "aaaaaaaa-0000-4000-8000-000000000001"
CHILD = "aaaaaaaa-0000-4000-8000-000000000002"
HOSTILE_TITLE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
ROOT_SECONDS, CHILD_SECONDS, CONTINUE_AT = 12.0, 10.0, 8.0
PUBLIC_URL = "https://encore.example"


@dataclass
class PublishedSite:
    base_url: str
    store: SqliteStore
    media_host: FakeSunoCdn  # the provider's CDN for covers and audio
    cache: AudioCache
    song_page: str  # the extension (hostile title), its audio cached
    root_page: str  # the song it extends, its audio only at the provider
    whole_page: str  # the extension's whole song
    child_task: int
    root_task: int
    audio: dict[str, Path] = field(default_factory=dict)


def cover_png() -> bytes:
    """A 64×64 cover: a diagonal gradient from Encore's orange to lavender, as a provider's PNG."""
    ramp = np.add.outer(np.arange(64), np.arange(64)) / 126.0
    start, end = np.array([0xE9, 0x54, 0x20]), np.array([0x6E, 0x4B, 0xD8])
    pixels = (start + (end - start) * ramp[..., None]).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _song(store: SqliteStore, request: GenerateRequest | ExtendRequest, clip: Clip) -> int:
    requester = Requester(user_id=MEMBER, channel_id=21, guild_id=GUILD)
    return await make_songs(store, requester, request, clip, provider="sunoapi")


@contextlib.asynccontextmanager
async def published_site(
    folder: Path,
    *,
    limiter: AddressLimiter | None = None,
    trusted_proxies: Sequence[Network] = LOOPBACK,
    child_title: str = HOSTILE_TITLE,
    clip_cache_bytes: int = 100 * 1024 * 1024,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[PublishedSite]:
    """Two songs (a new one and its extension, by default with a hostile title) and the extension's whole song,
    each with its page, in a server whose pages are on."""
    store = await SqliteStore.open(folder / "encore.db")
    media_host = FakeSunoCdn()
    await media_host.start()
    runner: web.AppRunner | None = None
    media = MediaFetcher([parse_origin(media_host.base_url)])
    try:
        audio = {
            ROOT: make_tone_mp3(
                folder / "root.mp3", freq_hz=440.0, seconds=ROOT_SECONDS, beats_per_minute=120, fade_seconds=0
            ),
            CHILD: make_tone_mp3(
                folder / "child.mp3", freq_hz=660.0, seconds=CHILD_SECONDS, beats_per_minute=120, fade_seconds=4.0
            ),
        }
        media_host.files["root.mp3"] = (audio[ROOT].read_bytes(), "audio/mpeg")
        media_host.files["cover.png"] = (cover_png(), "image/png")
        base = media_host.base_url
        root_task = await _song(
            store,
            GenerateRequest(prompt="dawn", model="chirp-v4-5"),
            Clip(ROOT, f"{base}/root.mp3", f"{base}/cover.png", "First light", ROOT_SECONDS),
        )
        child_task = await _song(
            store,
            ExtendRequest(clip_id=ROOT, continue_at=CONTINUE_AT, prompt="more", model="chirp-v4-5"),
            Clip(CHILD, f"{base}/child.mp3", f"{base}/cover.png", child_title, CHILD_SECONDS),
        )
        cache = AudioCache(folder / "audio-cache", clip_cache_bytes)
        whole_songs = AudioCache(folder / "audio-cache" / "pages", 100 * 1024 * 1024)
        cache.put(CHILD, audio[CHILD])
        built = stitch(
            [Part(audio[ROOT], CONTINUE_AT), Part(audio[CHILD], None)],
            folder / "whole.mp3",
            tags=SongTags(title="whole"),
        )
        timeline = WholeSongTimeline(
            duration=built.duration,
            spans=tuple(Span(clip, start, end) for clip, (start, end) in zip((ROOT, CHILD), built.spans, strict=True)),
            seams=built.seams,
            peaks=tuple((float(low), float(high)) for low, high in built.peaks.tolist()),
        )
        assert await store.claim_whole_song(CHILD, guild_id=GUILD, channel_id=21, requested_by=MEMBER, stale_after=60)
        assert await store.record_whole_song(CHILD, channel_id=21, message_id=702, timeline_json=timeline.to_json())

        await store.set_pages_on(GUILD, True)
        publisher = PagePublisher(store, PUBLIC_URL, whole_songs)
        pages: list[str] = []
        for clip, task_id, whole, message_id in (
            (ROOT, root_task, False, 700),
            (CHILD, child_task, False, 701),
            (CHILD, child_task, True, 702),
        ):
            if whole:
                await publisher.keep_whole_song(clip, built.path)
            page_id = await publisher.reserve(
                clip, whole=whole, guild_id=GUILD, task_id=task_id, makers=["Ana Lúcia", "Bo"], model="chirp-v4-5"
            )
            assert page_id is not None
            await publisher.posted(page_id, 21, message_id)
            pages.append(page_id)

        site = SongPages(
            store,
            public_url=PUBLIC_URL,
            cache=cache,
            whole_songs=whole_songs,
            media=media,
            limiter=limiter,
            trusted_proxies=trusted_proxies,
            clock=clock,
        )
        app = web.Application()
        site.register(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield PublishedSite(
            base_url=f"http://{host}:{port}",
            store=store,
            media_host=media_host,
            cache=cache,
            song_page=pages[1],
            root_page=pages[0],
            whole_page=pages[2],
            child_task=child_task,
            root_task=root_task,
            audio={**audio, "whole": built.path},
        )
    finally:
        if runner is not None:
            await runner.cleanup()
        await media.close()
        await media_host.stop()
        await store.close()
