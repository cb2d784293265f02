"""Encore's own copies of clip audio, on disk and bounded: the whole song reads a part here before any download.

Discord's attachment URLs expire and providers' links vanish, so the audio Encore already fetched once (to post a
result, or to build a whole song) is kept, least recently used first out, within `max_bytes`.

The cache only ever saves work: a copy it cannot write or read is "not cached" (logged), never a failed post or
build. Each write goes to its own temporary file, so threads and processes sharing the folder never collide, and
temporary files a crash left behind are removed once stale, and counted against the size until then. Beside a clip's mp3
lives its Opus encoding for voice channels (`<clip>.opus`) and its waveform (`<clip>.png`), made once, trimmed
with the rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def whole_song_key(clip_id: str) -> str:
    """The cache's name for the whole song ending at `clip_id` (a clip's own name is its id): one name, so the song
    pages and `/listen` find the same copy."""
    return f"whole-{clip_id}"


log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
PART_SUFFIX = ".part"
# A temporary file not written to for this long belongs to a write that died with its process.
STALE_PART_SECONDS = 600.0


def write_atomically(dest: Path, write: Callable[[BinaryIO], object]) -> None:
    """Make `dest` with `write`, through a temporary file of its own beside it renamed into place: a reader never
    sees half a file, and writers in other threads or processes never share one. The temporary file ends in
    `PART_SUFFIX`, so a cache in that folder counts it (and removes it once stale, if its writer died)."""
    descriptor, name = tempfile.mkstemp(dir=dest.parent, prefix=f"{dest.name}.", suffix=PART_SUFFIX)
    partial = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as out:
            write(out)
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise


AUDIO_CACHE_BYTES = 512 * 1024 * 1024  # the posted clips Encore keeps (whole songs, voice, pages read them)


class AudioCache:
    """Clip id → mp3 on disk; every method is quick file work, meant to run in a thread (`asyncio.to_thread`)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("the audio cache needs room for at least one byte")
        self.folder = folder
        self.max_bytes = max_bytes

    def check(self) -> str | None:
        """Make the folder and write, read back and remove a file in it; None when that works, else why not.

        Stale temporary files are removed on the way (a start is when a crash's leftovers are found).
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix="encore-check-", suffix=PART_SUFFIX) as probe:
                probe.write(b"encore")
                probe.flush()
                if Path(probe.name).read_bytes() != b"encore":
                    return "a file written there does not read back the same"
            self.trim()
        except OSError as error:
            return error.strerror or str(error)
        return None

    def _path(self, clip_id: str) -> Path | None:
        """Where a clip's copy lives; None for an id that is not a plain name (it never reaches the filesystem)."""
        return self.folder / f"{clip_id}.mp3" if _SAFE_NAME.fullmatch(clip_id) else None

    def find(self, clip_id: str) -> Path | None:
        """Where the clip's copy is, to serve it in place (it may be trimmed away later); None when there is none."""
        path = self._path(clip_id)
        return path if path is not None and path.is_file() else None

    def opus_path(self, clip_id: str) -> Path | None:
        """Where a clip's Opus packets for voice live (`bot.audio.opus`), and beside them its waveform picture
        (`.png`); None for an id that is not a plain name."""
        path = self._path(clip_id)
        return None if path is None else path.with_suffix(".opus")

    def copy_out(self, clip_id: str, dest: Path) -> bool:
        """Copy the clip's audio to `dest` and mark it as just used; False when there is none (or it is unreadable)."""
        path = self._path(clip_id)
        if path is None:
            return False
        try:
            shutil.copyfile(path, dest)
            os.utime(path)
        except FileNotFoundError:
            return False
        except OSError as error:
            log.warning("audio cache: could not read clip %s (%s); fetching it instead", clip_id, error)
            return False
        return True

    def put(self, clip_id: str, source: Path) -> bool:
        """Keep a copy of `source` for the clip, then trim to size; whether it is kept.

        Atomic (a reader never sees half a file) through a temporary file of its own; any failure is logged and
        leaves the clip not cached.
        """
        path = self._path(clip_id)
        if path is None:
            return False
        try:
            if source.stat().st_size > self.max_bytes:
                return False
            self.folder.mkdir(parents=True, exist_ok=True)
            with source.open("rb") as data:
                write_atomically(path, lambda out: shutil.copyfileobj(data, out))
            self.trim()
        except OSError as error:
            log.warning("audio cache: could not keep clip %s in %s (%s); it is not cached", clip_id, self.folder, error)
            return False
        return True

    def trim(self) -> None:
        """Remove stale temporary files, then drop the least recently used copies until the folder (temporary
        files in progress included) fits in `max_bytes`."""
        now = time.time()
        writing = 0
        for entry in self.folder.glob(f"*{PART_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                status = entry.stat()
                if now - status.st_mtime > STALE_PART_SECONDS:
                    entry.unlink(missing_ok=True)
                else:
                    writing += status.st_size
        entries = []
        for entry in [*self.folder.glob("*.mp3"), *self.folder.glob("*.opus"), *self.folder.glob("*.png")]:
            with contextlib.suppress(FileNotFoundError):
                status = entry.stat()
                entries.append((status.st_mtime, status.st_size, entry))
        total = writing + sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries):
            if total <= self.max_bytes:
                break
            entry.unlink(missing_ok=True)
            total -= size


def unwritable_note(cache: AudioCache) -> str | None:
    """Check `cache`'s folder (`AudioCache.check`); when Encore cannot write there, what to tell the operator, in
    the same words at start and in `python -m bot check`."""
    if (problem := cache.check()) is None:
        return None
    return (
        f"AUDIO_CACHE_DIR={cache.folder}: Encore cannot write there ({problem}); results are still posted, without "
        "keeping a copy, and whole songs download every part. Fix the folder's permissions or set AUDIO_CACHE_DIR "
        "elsewhere"
    )
