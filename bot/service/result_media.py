"""The files a result is posted with: each clip's audio and cover, downloaded, checked and kept until it is posted.

Media comes through `MediaFetcher` (public addresses or trusted origins only, bounded in size, time and rate), is
checked to be real audio (measured) and images (named by what their bytes are), and is kept on disk across
retries of one delivery, so a retry downloads nothing again. Every clip posted is also copied into Encore's audio
cache, from which its whole song is later built without a download.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from bot.audio.probe import AudioInfo, probe_audio
from bot.domain.errors import Refusal
from bot.domain.records import SongRecord, TaskRecord
from bot.media import MediaFetcher, MediaRefused, MediaTooLarge, sniff_image
from bot.media.cache import AudioCache
from bot.service.ports import ClipMedia

log = logging.getLogger("bot.service")

COVER_LIMIT = 8 * 1024 * 1024
# Clips downloaded at once; a slow source holds one of these, never a posting slot.
MAX_DOWNLOADS = 16
# A file name's extension for each audio container PyAV reads (its first name otherwise: wav, flac, ogg, aac …).
CONTAINER_EXTENSIONS = {"mov,mp4,m4a,3gp,3g2,mj2": "m4a", "matroska,webm": "mka"}
AUDIO_FILE_EXTENSIONS = frozenset({"mp3", "m4a", "mka", "wav", "flac", "ogg", "aac", "aiff", "opus"})


class TrackUnusable(Refusal):
    """A member's own track could not be fetched or decoded; nothing was sent to the provider."""


@dataclass(slots=True)
class _Kept:
    folder: tempfile.TemporaryDirectory[str]
    media: dict[str, ClipMedia]


class ResultMedia:
    """Downloads, probes and caches what results are posted with; kept per task until `forget`."""

    def __init__(self, fetcher: MediaFetcher, *, audio_cache: AudioCache | None = None) -> None:
        self._fetcher = fetcher
        self._audio_cache = audio_cache
        self._kept: dict[int, _Kept] = {}
        self._downloads = asyncio.Semaphore(MAX_DOWNLOADS)

    async def prepare(self, task: TaskRecord, songs: list[SongRecord], upload_limit: int) -> dict[str, ClipMedia]:
        """Every clip's audio (at most `upload_limit` bytes) and cover, all at once (a slow one delays only its own
        task), fetched once per task; a clip already prepared is not fetched again."""
        kept = self._kept.get(task.id)
        if kept is None:
            kept = _Kept(tempfile.TemporaryDirectory(prefix=f"encore-{task.id}-"), {})
            self._kept[task.id] = kept
        missing = [(index, song) for index, song in enumerate(songs) if song.clip_id not in kept.media]
        folder = Path(kept.folder.name)
        found = await asyncio.gather(*(self._download(song, folder, index, upload_limit) for index, song in missing))
        for (_, song), media in zip(missing, found, strict=True):
            kept.media[song.clip_id] = media
        return kept.media

    def forget(self, task_id: int) -> None:
        """The task is posted or given up: remove its files."""
        if kept := self._kept.pop(task_id, None):
            kept.folder.cleanup()

    def close(self) -> None:
        """Remove every download still kept for a retry."""
        for task_id in list(self._kept):
            self.forget(task_id)

    async def measure_track(self, url: str, filename: str, max_bytes: int) -> float:
        """A member's own track's length in seconds, downloaded (bounded) to a scratch folder and decoded.

        `TrackUnusable` says why in words fit for the member.
        """
        with tempfile.TemporaryDirectory(prefix="encore-upload-") as folder:
            track = Path(folder) / filename
            try:
                await self._fetcher.fetch(url, track, max_bytes=max_bytes, kind="audio")
            except MediaRefused as refused:
                log.warning("could not download an attachment: %s", refused.reason)
                raise TrackUnusable(_unusable_track_text(refused.reason)) from None
            info = await asyncio.to_thread(playable, track)
        if info is None:
            raise TrackUnusable(_unusable_track_text("no audio decoder can read it"))
        return info.duration

    async def _download(self, song: SongRecord, folder: Path, index: int, limit: int) -> ClipMedia:
        async with self._downloads:
            audio, cover = await asyncio.gather(
                self._fetch_audio(song, folder / f"audio-{index}.mp3", limit),
                self._fetch_cover(song, folder / f"cover-{index}"),
            )
        return replace(audio, cover=cover)

    async def _fetch_audio(self, song: SongRecord, path: Path, limit: int) -> ClipMedia:
        if not song.audio_url:
            return ClipMedia(None, None, None, audio_problem="the provider gave no audio")
        try:
            await self._fetcher.fetch(song.audio_url, path, max_bytes=limit, kind="audio")
        except MediaTooLarge as refused:
            return ClipMedia(None, None, None, audio_problem=refused.reason, audio_too_large=True)
        except MediaRefused as refused:
            log.warning("clip %s: audio refused: %s", song.clip_id, refused.reason)
            return ClipMedia(None, None, None, audio_problem=refused.reason)
        info = await asyncio.to_thread(playable, path)
        if info is None:
            log.warning("clip %s: the audio file is not audio any decoder can read", song.clip_id)
            return ClipMedia(None, None, None, audio_problem="the file is not audio that can be played")
        if self._audio_cache:
            await asyncio.to_thread(self._audio_cache.put, song.clip_id, path)
        return ClipMedia(path, None, info.duration, extension=audio_extension(info))

    async def _fetch_cover(self, song: SongRecord, stem: Path) -> Path | None:
        if not song.image_url:
            return None
        download = stem.with_suffix(".img")
        try:
            await self._fetcher.fetch(song.image_url, download, max_bytes=COVER_LIMIT, kind="image")
        except MediaRefused as refused:
            log.info("clip %s: cover refused: %s", song.clip_id, refused.reason)
            return None
        return await asyncio.to_thread(named_by_content, download, stem)


def _unusable_track_text(why: str) -> str:
    """What the member is told, whatever went wrong: why, and what to do."""
    return f"Encore could not use your file ({why}). Export it as mp3 or wav and attach it again."


def playable(path: Path) -> AudioInfo | None:
    """A downloaded clip's length and format, or None (and the file removed) when no decoder can play it."""
    info = probe_audio(path)
    if info is None:
        path.unlink(missing_ok=True)
    return info


def audio_extension(info: AudioInfo) -> str:
    """The file extension of what the audio really is, whatever its URL said."""
    return CONTAINER_EXTENSIONS.get(info.container, info.container.split(",")[0])


def named_by_content(download: Path, stem: Path) -> Path:
    """Rename a downloaded image after what its bytes are (png, jpg, gif, webp), whatever its URL said."""
    with download.open("rb") as file:
        extension = sniff_image(file.read(16))
    return download.rename(stem.with_suffix(f".{extension}" if extension in ("png", "gif", "webp") else ".jpeg"))
