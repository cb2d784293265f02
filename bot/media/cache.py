"""Encore's own copies of clip audio, on disk and bounded: the whole song reads a part here before any download.

Discord's attachment URLs expire and providers' links vanish, so the audio Encore already fetched once (to post a
result, or to build a whole song) is kept, least recently used first out, within `max_bytes`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

_SAFE_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")


class AudioCache:
    """Clip id → mp3 on disk; every method is quick file work, meant to run in a thread (`asyncio.to_thread`)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("the audio cache needs room for at least one byte")
        self.folder = folder
        self.max_bytes = max_bytes

    def _path(self, clip_id: str) -> Path | None:
        """Where a clip's copy lives; None for an id that is not a plain name (it never reaches the filesystem)."""
        return self.folder / f"{clip_id}.mp3" if _SAFE_NAME.fullmatch(clip_id) else None

    def find(self, clip_id: str) -> Path | None:
        """Where the clip's copy is, to serve it in place (it may be trimmed away later); None when there is none."""
        path = self._path(clip_id)
        return path if path is not None and path.is_file() else None

    def copy_out(self, clip_id: str, dest: Path) -> bool:
        """Copy the clip's audio to `dest` and mark it as just used; False when there is none."""
        path = self._path(clip_id)
        if path is None:
            return False
        try:
            shutil.copyfile(path, dest)
            os.utime(path)
        except FileNotFoundError:
            return False
        return True

    def put(self, clip_id: str, source: Path) -> None:
        """Keep a copy of `source` for the clip (atomically: a reader never sees half a file), then trim to size."""
        path = self._path(clip_id)
        if path is None or source.stat().st_size > self.max_bytes:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        shutil.copyfile(source, partial)
        os.replace(partial, path)
        self._trim()

    def _trim(self) -> None:
        """Drop the least recently used copies until the folder fits in `max_bytes`."""
        entries = []
        for entry in self.folder.glob("*.mp3"):
            with contextlib.suppress(FileNotFoundError):
                status = entry.stat()
                entries.append((status.st_mtime, status.st_size, entry))
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries):
            if total <= self.max_bytes:
                break
            entry.unlink(missing_ok=True)
            total -= size
