"""The whole song as the bot builds it: frames copied when the parts allow, today's full re-encode when not.

Builds run on their own small executor (not asyncio's default one, which also runs probes and DNS look-ups), so a
burst of presses queues instead of taking every core, and a build whose caller gives up (its deadline, a stop) is
told to stop between two blocks; the caller returns only once it has, so no second build of the same song can
start beside a dying one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.audio.framecopy import CannotCopy, copy_join
from bot.audio.stitch import Part, SongTags, StitchResult, fit_to_limit

log = logging.getLogger("bot.audio")

BUILDS_AT_ONCE = 1
"""Whole songs built at the same time; more wait their turn (a copy takes well under a second, a re-encode ~13 s)."""

_builds = ThreadPoolExecutor(max_workers=BUILDS_AT_ONCE, thread_name_prefix="encore-whole-song")
_running = 0
_running_lock = threading.Lock()


def running_builds() -> int:
    """Whole songs being built in this process right now (a stopped build no longer counts)."""
    return _running


def join(
    parts: Sequence[Part],
    out_path: Path,
    limit_bytes: int,
    *,
    tags: SongTags,
    cancel: threading.Event | None = None,
) -> StitchResult:
    """Copy the parts' frames; when they cannot be copied (or the copy is over `limit_bytes`), re-encode the song
    at the best bit rate that fits, saying why in `built_by`."""
    global _running
    with _running_lock:
        _running += 1
    try:
        return copy_join(parts, out_path, limit_bytes=limit_bytes, tags=tags, cancel=cancel)
    except CannotCopy as reason:
        log.info("whole song %s re-encoded: %s", out_path.name, reason)
        result = fit_to_limit(parts, out_path, limit_bytes, tags=tags, cancel=cancel)
        return dataclasses.replace(result, built_by=f"{result.built_by} ({reason})")
    finally:
        with _running_lock:
            _running -= 1


async def join_in_thread(parts: Sequence[Part], out_path: Path, limit_bytes: int, *, tags: SongTags) -> StitchResult:
    """`join` on the builds' executor; cancelling this stops the build and returns once it has stopped."""
    cancel = threading.Event()
    build = functools.partial(join, parts, out_path, limit_bytes, tags=tags, cancel=cancel)
    future = asyncio.get_running_loop().run_in_executor(_builds, build)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancel.set()
        await asyncio.wait([future])
        raise
