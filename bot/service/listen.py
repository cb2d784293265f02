"""Listening together: which song a `/listen` means, its Opus packets made once, and a server's queue.

Nothing here knows Discord: the player that sends the packets into a voice channel is `bot.ui.voice`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from bot.audio.opus import OpusSong, encode_opus, read_packets
from bot.audio.stitch import AudioError
from bot.config import VoiceLimits
from bot.domain.errors import Refusal
from bot.domain.records import SongRecord
from bot.domain.validation import format_seconds, parse_song_ref
from bot.domain.wholesong import ChainPart
from bot.media.cache import AudioCache
from bot.service.wholesong import WholeSongs
from bot.store import Store

log = logging.getLogger("bot.service")


class ListenRefused(Refusal):
    """The song cannot be played, or not now; the message is for the member."""


@dataclass(frozen=True, slots=True)
class Track:
    """A song ready to play: its record, who asked for it, and its Opus packets on disk."""

    song: SongRecord
    requester_id: int
    opus: Path
    duration: float

    @property
    def title(self) -> str:
        return self.song.title or "Untitled"

    def load(self) -> OpusSong:
        """The packets, read whole (in a thread): the player must never wait on the disk."""
        return read_packets(self.opus)


@dataclass(eq=False)
class ListenQueue:
    """One server's queue: what plays now and what waits, bounded by `size` (the playing song not counted)."""

    size: int
    current: Track | None = None
    waiting: deque[Track] = field(default_factory=deque)

    def add(self, track: Track) -> int:
        """Queue a track; its place (1 = next), or `ListenRefused` when the queue is full."""
        if len(self.waiting) >= self.size:
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
    """Turns a `song` option into a playable `Track`: the song must be one Encore made on the server, no longer
    than the limit; its mp3 comes from Encore's cache or through the media guard, and is encoded to Opus once."""

    def __init__(self, store: Store, whole_songs: WholeSongs, cache: AudioCache, limits: VoiceLimits) -> None:
        self._store = store
        self._whole_songs = whole_songs
        self._cache = cache
        self._limits = limits
        self._encoding: dict[str, asyncio.Lock] = {}

    async def track(self, song_ref: str, *, guild_id: int, requester_id: int) -> Track:
        """The song of a `song` option, ready to play; a `Refusal` says why not (`InputError` for a bad option)."""
        clip_id = parse_song_ref(song_ref)
        song = await self._store.get_song(clip_id)
        if song is None or song.guild_id != guild_id:
            raise ListenRefused("Encore has not made that song on this server, so it has nothing to play.")
        limit = self._limits.max_song_seconds
        if song.duration is not None and song.duration > limit:
            raise ListenRefused(
                f"That song is {format_seconds(song.duration)} long; "
                f"this bot plays songs up to {format_seconds(limit)}."
            )
        path = self._cache.opus_path(clip_id)
        if path is None:
            raise ListenRefused("That is not a song id Encore can play.")
        lock = self._encoding.setdefault(clip_id, asyncio.Lock())
        async with lock:  # two /listen of a new song encode it once
            if not path.exists():
                await self._encode(song, path)
        self._encoding.pop(clip_id, None)
        packets = await asyncio.to_thread(read_packets, path)
        return Track(song, requester_id, path, packets.duration)

    async def _encode(self, song: SongRecord, dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="encore-listen-") as folder:
            mp3 = Path(folder) / "song.mp3"
            failures = await self._whole_songs.fetch_clip_audio(ChainPart(song.clip_id, None, song), mp3)
            if failures is not None:
                log.warning("no audio for /listen of %s: %s", song.clip_id, "; ".join(failures))
                raise ListenRefused("Encore could not get this song's audio right now; try again later.")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                await asyncio.to_thread(encode_opus, mp3, dest, max_seconds=self._limits.max_song_seconds)
            except AudioError as error:
                raise ListenRefused(f"Encore cannot play this song: {error}.") from None
        log.info("encoded %s to Opus for voice", song.clip_id)
