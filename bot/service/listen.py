"""Listening together: which songs a `/listen` means, their Opus packets made once, and a server's queue.

A queued song is only a record until it is about to play: its audio is fetched and encoded then (and the next
one while the current plays), so queuing a member's twenty songs costs nothing up front. Nothing here knows
Discord: the player that sends the packets into a voice channel is `bot.ui.voice`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.audio.opus import OpusSong, encode_opus, read_packets
from bot.audio.stitch import AudioError
from bot.audio.waveform import render_waveform
from bot.config import VoiceLimits
from bot.domain.errors import Refusal
from bot.domain.records import SongRecord, WholeSongRecord, WholeSongState
from bot.domain.validation import format_seconds, parse_song_ref
from bot.domain.wholesong import ChainPart
from bot.media import MediaFetcher, MediaRefused
from bot.media.cache import AudioCache, whole_song_key
from bot.service.community import PERIODS, Community
from bot.service.wholesong import PART_DEADLINE_SECONDS, PART_MAX_BYTES, WholeSongs
from bot.store import Store

log = logging.getLogger("bot.service")

WholeSongUrl = Callable[[WholeSongRecord], Awaitable[str | None]]
"""Where a posted whole song's mp3 can be downloaded now (Discord's attachment URLs expire): the Discord side."""


class ListenRefused(Refusal):
    """The song cannot be played, or not now; the message is for the member."""


@dataclass(frozen=True, slots=True)
class Track:
    """A queued song: its record, who asked for it, and whether it is the chain's whole song."""

    song: SongRecord
    requester_id: int
    whole: bool = False

    @property
    def title(self) -> str:
        title = self.song.title or "Untitled"
        return f"{title} (whole song)" if self.whole else title


@dataclass(eq=False)
class ListenQueue:
    """One server's queue: what plays now and what waits, bounded by `size` (the playing song not counted)."""

    size: int
    current: Track | None = None
    waiting: deque[Track] = field(default_factory=deque)

    @property
    def room(self) -> int:
        return max(0, self.size - len(self.waiting))

    def add(self, track: Track) -> int:
        """Queue a track; its place (1 = next), or `ListenRefused` when the queue is full."""
        if not self.room:
            raise ListenRefused(
                f"The queue of this server is full ({self.size} songs). Wait for a few to play, then try again."
            )
        self.waiting.append(track)
        return len(self.waiting)

    def advance(self) -> Track | None:
        """The next track becomes the current one (None: the queue has ended)."""
        self.current = self.waiting.popleft() if self.waiting else None
        return self.current


class SongAudio:
    """Finds the songs a `/listen` means (only songs Encore made on the server, no longer than the limit) and
    turns one into Opus packets: its mp3 from Encore's cache or through the media guard, encoded once and kept."""

    def __init__(
        self,
        store: Store,
        whole_songs: WholeSongs,
        community: Community,
        fetcher: MediaFetcher,
        cache: AudioCache,
        limits: VoiceLimits,
        whole_song_url: WholeSongUrl,
    ) -> None:
        self.store = store
        self._whole_songs = whole_songs
        self._community = community
        self._fetcher = fetcher
        self._cache = cache
        self._limits = limits
        self._whole_song_url = whole_song_url
        self._encoding: dict[str, asyncio.Lock] = {}

    async def song(self, song_ref: str, *, guild_id: int, whole: bool = False) -> SongRecord:
        """The song of a `song` option; a `Refusal` says why it cannot be played (`InputError` for a bad option)."""
        song = await self.store.get_song(parse_song_ref(song_ref))
        if song is None or song.guild_id != guild_id:
            raise ListenRefused("Encore has not made that song on this server, so it has nothing to play.")
        if whole:
            record = await self.store.get_whole_song(song.clip_id)
            if record is None or record.state is not WholeSongState.POSTED:
                raise ListenRefused(
                    "This song's whole song has not been posted yet: press **Whole song** under it first."
                )
            return song
        limit = self._limits.max_song_seconds
        if song.duration is not None and song.duration > limit:
            raise ListenRefused(
                f"That song is {format_seconds(song.duration)} long; "
                f"this bot plays songs up to {format_seconds(limit)}."
            )
        return song

    async def member_songs(self, guild_id: int, member_id: int, limit: int) -> list[SongRecord]:
        """A member's songs on the server, newest first."""
        songs, _ = await self.store.songs_page(guild_id, member_id, 0, limit)
        return self._playable(songs)

    async def top_songs(self, guild_id: int, period: str, limit: int) -> list[SongRecord]:
        """The most starred results of a period (`/top`'s), each one's first song."""
        if period not in PERIODS:
            raise ListenRefused(f"`top` is one of {', '.join(PERIODS)}.")
        rows = await self._community.top(guild_id, period, time.time(), limit)
        return self._playable([song for _, _, song in rows if song is not None])

    async def radio_songs(self, guild_id: int, order: str, offset: int, limit: int) -> list[SongRecord]:
        """The next songs of the server's radio: all its songs newest first, or its most starred of all time."""
        if order == "starred":
            rows = await self._community.top(guild_id, "all", time.time(), offset + limit)
            songs = [song for _, _, song in rows[offset:] if song is not None]
        else:
            songs = await self.store.guild_songs(guild_id, offset, limit)
        return songs  # a song over the length limit is skipped when due, with a note

    def _playable(self, songs: list[SongRecord]) -> list[SongRecord]:
        limit = self._limits.max_song_seconds
        return [song for song in songs if song.duration is None or song.duration <= limit]

    def waveform(self, track: Track) -> bytes | None:
        """The track's waveform picture, drawn when it was encoded (None if it is not there); quick file work."""
        path = self._cache.opus_path(self._key(track))
        try:
            return None if path is None else path.with_suffix(".png").read_bytes()
        except OSError:
            return None

    @staticmethod
    def _key(track: Track) -> str:
        return whole_song_key(track.song.clip_id) if track.whole else track.song.clip_id

    async def prepare(self, track: Track) -> OpusSong:
        """The track's Opus packets, encoding them first if this song was never played (once, whoever asks)."""
        key = self._key(track)
        path = self._cache.opus_path(key)
        if path is None:
            raise ListenRefused("That is not a song id Encore can play.")
        lock = self._encoding.setdefault(key, asyncio.Lock())
        async with lock:  # two /listen of a new song encode it once
            if not path.exists():
                await self._encode(track, path)
        if not lock.locked():
            self._encoding.pop(key, None)
        try:
            return await asyncio.to_thread(read_packets, path)
        except (AudioError, OSError) as error:
            path.unlink(missing_ok=True)  # encoded again next time
            raise ListenRefused(f"Encore's copy of this song is damaged ({error}); ask for it again.") from None

    async def _encode(self, track: Track, dest: Path) -> None:
        song = track.song
        with tempfile.TemporaryDirectory(prefix="encore-listen-") as folder:
            mp3 = Path(folder) / "song.mp3"
            if track.whole:
                await self._fetch_whole_song(song, mp3)
            else:
                source, failures = await self._whole_songs.fetch_clip_audio(ChainPart(song.clip_id, None, song), mp3)
                if source is None:
                    log.warning("no audio for /listen of %s: %s", song.clip_id, "; ".join(failures))
                    raise ListenRefused("Encore could not get this song's audio right now; try again later.")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                encoded = await asyncio.to_thread(encode_opus, mp3, dest, max_seconds=self._limits.max_song_seconds)
            except AudioError as error:
                raise ListenRefused(f"Encore cannot play this song: {error}.") from None
        picture = await asyncio.to_thread(
            render_waveform, encoded.peaks, encoded.duration, [(0.0, encoded.duration)], [], width=800, height=160
        )
        await asyncio.to_thread(dest.with_suffix(".png").write_bytes, picture)
        log.info("encoded %s%s to Opus for voice", "the whole song of " if track.whole else "", song.clip_id)

    async def _fetch_whole_song(self, song: SongRecord, dest: Path) -> None:
        record = await self.store.get_whole_song(song.clip_id)
        url = None if record is None else await self._whole_song_url(record)
        if url is None:
            raise ListenRefused("The whole song's post cannot be read any more; press **Whole song** again.")
        try:
            await self._fetcher.fetch(url, dest, max_bytes=PART_MAX_BYTES, kind="audio", deadline=PART_DEADLINE_SECONDS)
        except MediaRefused as refused:
            raise ListenRefused(f"Encore could not download the whole song ({refused.reason}).") from None


RADIO_ORDERS = {"newest": "newest first", "starred": "most starred first"}


@dataclass(eq=False)
class Radio:
    """`/listen radio`: endless, the next few of the server's songs whenever the queue runs dry, from the top again
    after the last."""

    audio: SongAudio
    guild_id: int
    order: str
    requester_id: int
    offset: int = 0

    async def more(self, count: int) -> list[Track]:
        songs = await self.audio.radio_songs(self.guild_id, self.order, self.offset, count)
        if not songs and self.offset:
            self.offset = 0
            songs = await self.audio.radio_songs(self.guild_id, self.order, 0, count)
        self.offset += len(songs)
        return [Track(song, self.requester_id) for song in songs]
