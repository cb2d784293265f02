"""The whole song: join a chain of extends into one song and post it once, as a reply to the result.

A press (or the server's auto setting) claims the post in the store, exactly once; the builder fetches each part
(Encore's own copy, the provider's link, the result message's attachment, Suno's CDN, in that order), joins them
off the event loop, draws the waveform and hands the files to the Discord side. Any failure gives the claim back
with a reason, so a later press can try again; a claim whose builder died is retaken once it is stale.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.audio.join import join_in_thread
from bot.audio.probe import probe_audio
from bot.audio.stitch import AudioError, Part, SongTags
from bot.audio.waveform import render_waveform
from bot.domain.records import SongRecord, WholeSongRecord, WholeSongState
from bot.domain.wholesong import ChainPart, Span, WholeSongTimeline, WholeSongUnavailable, chain_parts
from bot.media import MediaFetcher, MediaRefused
from bot.media.cache import AudioCache
from bot.service.ports import DeliveryError, Metrics, NoMetrics, WholeSongEvents, WholeSongPost
from bot.store import Store

# Where a part's audio came from, as `/metrics` counts it.
PartSource = Literal["cache", "download"]

log = logging.getLogger("bot.service")

CLAIM_STALE_SECONDS = 300.0
"""A claim this old is taken to be a builder that died (a crash between claim and post): a new press retakes it."""
BUILD_DEADLINE_SECONDS = 240.0
"""A build gives up before its claim turns stale, so a retaken claim never races a live builder."""
PART_MAX_BYTES = 64 * 1024 * 1024
PART_DEADLINE_SECONDS = 60.0
COVER_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WholeSongPosted:
    """The whole song is in the channel: just now (`new`), or since an earlier press."""

    record: WholeSongRecord
    new: bool


@dataclass(frozen=True, slots=True)
class WholeSongBuilding:
    """Someone's press is building it right now (or a builder died and its claim is not stale yet)."""

    record: WholeSongRecord


@dataclass(frozen=True, slots=True)
class WholeSongFailed:
    """It could not be made; `reason` is for the member, and nothing was posted."""

    reason: str


WholeSongOutcome = WholeSongPosted | WholeSongBuilding | WholeSongFailed


class PartUnavailable(Exception):
    """No source gave a part's audio; the message names the part and what each source said."""


class WholeSongs:
    """Claims, builds and posts whole songs; every build runs as a tracked task, so a stop can wait for it."""

    def __init__(
        self,
        store: Store,
        events: WholeSongEvents,
        fetcher: MediaFetcher,
        *,
        cdn_base_url: str,
        cache: AudioCache | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or NoMetrics()
        self._events = events
        self._fetcher = fetcher
        self._cdn_base_url = cdn_base_url.rstrip("/")
        self.cache = cache
        self.running: dict[str, asyncio.Task[WholeSongOutcome]] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def request(
        self,
        clip_id: str,
        *,
        user_id: int | None,
        guild_id: int | None,
        channel_id: int,
        reply_to: int | None,
        upload_limit: int | None,
        trigger: str = "button",
    ) -> WholeSongOutcome:
        """Post the whole song ending with `clip_id`, or say where it is, that it is being built, or why not.

        `trigger` says how it was asked for ("button", or "auto" for the server's setting), for the metrics.
        """
        song = await self._store.get_song(clip_id)
        if song is None or song.guild_id != guild_id:
            return WholeSongFailed("Encore has not made that song on this server.")
        existing = await self._store.get_whole_song(clip_id)
        if existing is not None and existing.state is WholeSongState.POSTED:
            return WholeSongPosted(existing, new=False)
        claimed = await self._store.claim_whole_song(
            clip_id, guild_id=guild_id, channel_id=channel_id, requested_by=user_id, stale_after=CLAIM_STALE_SECONDS
        )
        current = await self._store.get_whole_song(clip_id)
        if not claimed:
            if current is not None and current.state is WholeSongState.POSTED:
                return WholeSongPosted(current, new=False)
            if current is not None:
                return WholeSongBuilding(current)
            return WholeSongFailed("Encore could not take this whole song on; press again in a moment.")
        self._metrics.whole_song("started", trigger)
        build = self._measured(
            trigger, self._build_and_post(song, channel_id=channel_id, reply_to=reply_to, upload_limit=upload_limit)
        )
        return await asyncio.shield(self._track(clip_id, build))

    async def _measured(self, trigger: str, build: Coroutine[Any, Any, WholeSongOutcome]) -> WholeSongOutcome:
        """Count a claimed build's outcome and time (a cancelled one is neither posted nor failed: its claim is
        given back for the next press)."""
        started = time.monotonic()
        outcome = await build
        result = "posted" if isinstance(outcome, WholeSongPosted) else "failed"
        self._metrics.whole_song(result, trigger, time.monotonic() - started)
        return outcome

    def start_auto(self, song: SongRecord, *, channel_id: int, reply_to: int | None, upload_limit: int | None) -> None:
        """The server wants the whole song after every result: build it in the background, telling the channel
        when it cannot be made (nobody pressed for it, so nobody else would hear)."""

        async def auto() -> None:
            outcome = await self.request(
                song.clip_id,
                user_id=None,
                guild_id=song.guild_id,
                channel_id=channel_id,
                reply_to=reply_to,
                upload_limit=upload_limit,
                trigger="auto",
            )
            if isinstance(outcome, WholeSongFailed):
                await self._events.whole_song_failed(channel_id, song.guild_id, reply_to, outcome.reason)

        task = asyncio.create_task(auto(), name=f"encore-whole-auto-{song.clip_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop(self, grace: float) -> None:
        """Let builds in flight finish for up to `grace` seconds; cancel the rest (their claims are given back)."""
        running = [*self.running.values(), *self._background]
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _track(self, clip_id: str, build: Coroutine[Any, Any, WholeSongOutcome]) -> asyncio.Task[WholeSongOutcome]:
        task = asyncio.create_task(build, name=f"encore-whole-{clip_id}")
        self.running[clip_id] = task
        task.add_done_callback(lambda _: self.running.pop(clip_id, None))
        return task

    async def _build_and_post(
        self, song: SongRecord, *, channel_id: int, reply_to: int | None, upload_limit: int | None
    ) -> WholeSongOutcome:
        """Under the claim: build, post, record; on any failure give the claim back with the reason."""
        clip_id = song.clip_id
        try:
            async with asyncio.timeout(BUILD_DEADLINE_SECONDS):
                message_id, timeline = await self._build(song, channel_id, reply_to, upload_limit)
        except (WholeSongUnavailable, PartUnavailable, AudioError, DeliveryError) as error:
            return await self._failed(clip_id, str(error))
        except TimeoutError:
            return await self._failed(clip_id, "Building the whole song took too long; press again to retry.")
        except asyncio.CancelledError:
            await self._store.release_whole_song(clip_id, "Encore stopped while building it.")
            raise
        except Exception:
            log.exception("whole song of %s failed", clip_id)
            return await self._failed(clip_id, "Something went wrong on Encore's side; nothing was posted.")
        if not await self._store.record_whole_song(
            clip_id, channel_id=channel_id, message_id=message_id, timeline_json=timeline.to_json()
        ):
            log.warning("whole song of %s was posted as %s after its claim was lost", clip_id, message_id)
        record = await self._store.get_whole_song(clip_id)
        assert record is not None
        log.info("whole song of %s posted as message %s", clip_id, message_id)
        return WholeSongPosted(record, new=True)

    async def _failed(self, clip_id: str, reason: str) -> WholeSongFailed:
        log.warning("whole song of %s not made: %s", clip_id, reason)
        await self._store.release_whole_song(clip_id, reason)
        return WholeSongFailed(reason)

    async def _build(
        self, song: SongRecord, channel_id: int, reply_to: int | None, upload_limit: int | None
    ) -> tuple[int, WholeSongTimeline]:
        chain = await self._store.song_chain(song.clip_id)
        parts = chain_parts(chain)
        if len(parts) < 2:
            raise WholeSongUnavailable("This song is not an extension of another, so it already is the whole song.")
        makers = list(dict.fromkeys(part.song.owner_id for part in parts if part.song and part.song.owner_id))
        limit = upload_limit or self._events.upload_limit(song.guild_id)
        maker_names = await self._events.maker_names(song.guild_id, makers)
        with tempfile.TemporaryDirectory(prefix="encore-whole-") as folder:
            work = Path(folder)
            paths = [await self._part_audio(index, part, work) for index, part in enumerate(parts)]
            cover = await self._cover(song, work)
            tags = SongTags(
                title=song.title or "Untitled",
                artists=maker_names,
                comment=f"The whole song of {len(parts)} parts, joined by Encore",
                cover=cover,
            )
            result = await join_in_thread(
                [Part(path, part.end) for path, part in zip(paths, parts, strict=True)],
                work / "whole.mp3",
                limit,
                tags=tags,
            )
            png = await asyncio.to_thread(render_waveform, result.peaks, result.duration, result.spans, result.seams)
            timeline = WholeSongTimeline(
                duration=result.duration,
                spans=tuple(
                    Span(part.clip_id, start, end) for part, (start, end) in zip(parts, result.spans, strict=True)
                ),
                seams=result.seams,
                peaks=tuple((float(low), float(high)) for low, high in result.peaks.tolist()),
            )
            post = WholeSongPost(
                song=song,
                chain=chain,
                parts=parts,
                audio=result.path,
                waveform_png=png,
                timeline=timeline,
                bitrate=result.bitrate,
                built_by=result.built_by,
                makers=makers,
                maker_names=tuple(maker_names),
                channel_id=channel_id,
                guild_id=song.guild_id,
                reply_to=reply_to,
            )
            return await self._events.post_whole_song(post), timeline

    async def _part_audio(self, index: int, part: ChainPart, work: Path) -> Path:
        """One part's mp3 from the first source that gives real audio; `PartUnavailable` says what each said."""
        dest = work / f"part-{index + 1}.mp3"
        source, failures = await self.fetch_clip_audio(part, dest)
        if source is not None:
            self._metrics.whole_song_part(source)
            return dest
        title = f"“{part.song.title}”, " if part.song and part.song.title else ""
        raise PartUnavailable(
            f"Encore could not get the audio of part {index + 1} ({title}{part.clip_id[:8]}): "
            + ("; ".join(failures) or "no source has it")
            + ". Nothing was posted; try again later."
        )

    async def fetch_clip_audio(self, part: ChainPart, dest: Path) -> tuple[PartSource | None, list[str]]:
        """Put a clip's mp3 at `dest` from the first source that gives real audio, Encore's own copy first (and keep
        a copy of what was downloaded): where it came from, or None and what each source said."""
        if await self._cached(part.clip_id, dest):
            return "cache", []
        failures = []
        for label, url in await self._sources(part):
            try:
                await self._fetcher.fetch(
                    url, dest, max_bytes=PART_MAX_BYTES, kind="audio", deadline=PART_DEADLINE_SECONDS
                )
            except MediaRefused as refused:
                failures.append(f"{label}: {refused.reason}")
                continue
            if await asyncio.to_thread(probe_audio, dest) is None:
                failures.append(f"{label}: not audio that can be decoded")
                continue
            if self.cache:
                await asyncio.to_thread(self.cache.put, part.clip_id, dest)
            return "download", []
        return None, failures

    async def _cached(self, clip_id: str, dest: Path) -> bool:
        """Encore's own copy of the clip, if it still has a readable one."""
        if self.cache is None or not await asyncio.to_thread(self.cache.copy_out, clip_id, dest):
            return False
        return await asyncio.to_thread(probe_audio, dest) is not None

    async def _sources(self, part: ChainPart) -> list[tuple[str, str]]:
        """Where a part's audio may be, best first: the provider's link, Encore's result post, Suno's CDN."""
        sources = []
        song = part.song
        if song and song.audio_url:
            sources.append(("the provider's link", song.audio_url))
        if song and song.task_id is not None and (url := await self._posted_audio_url(song.task_id, part.clip_id)):
            sources.append(("Encore's result message", url))
        sources.append(("Suno's CDN", f"{self._cdn_base_url}/{part.clip_id}.mp3"))
        return sources

    async def _posted_audio_url(self, task_id: int, clip_id: str) -> str | None:
        """The clip's mp3 on Encore's result message, if the result was posted and still is."""
        task = await self._store.get_task(task_id)
        if task is None or task.result_message_id is None:
            return None
        clips = [song.clip_id for song in await self._store.songs_of_task(task_id)]
        if clip_id not in clips:
            return None
        return await self._events.result_audio_url(task, clips.index(clip_id) + 1)

    async def _cover(self, song: SongRecord, work: Path) -> bytes | None:
        """The last clip's cover for the file's tags; a song without one is still a song."""
        if not song.image_url:
            return None
        dest = work / "cover"
        try:
            await self._fetcher.fetch(song.image_url, dest, max_bytes=COVER_MAX_BYTES, kind="image", deadline=30.0)
        except MediaRefused as refused:
            log.info("whole song of %s: no cover (%s)", song.clip_id, refused.reason)
            return None
        return await asyncio.to_thread(dest.read_bytes)
