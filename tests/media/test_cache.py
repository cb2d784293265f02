"""Encore's own copies of clip audio: kept whole, read back, bounded, least recently used out first."""

from __future__ import annotations

import os
from pathlib import Path

from bot.media.cache import AudioCache


def source(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / f"{name}.src"
    path.write_bytes(name.encode()[:1] * size)
    return path


def test_a_copy_comes_back_byte_for_byte(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "cache", max_bytes=1000)
    cache.put("aaaa-1", source(tmp_path, "a", 100))
    assert cache.copy_out("aaaa-1", tmp_path / "out.mp3")
    assert (tmp_path / "out.mp3").read_bytes() == b"a" * 100
    assert not cache.copy_out("bbbb-2", tmp_path / "none.mp3")
    assert not cache.copy_out("../escape", tmp_path / "none.mp3")
    assert not list((tmp_path / "cache").glob("*.part"))


def test_it_stays_within_its_size_dropping_the_least_recently_used(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "cache", max_bytes=250)
    for number, name in enumerate(("a", "b")):
        cache.put(name, source(tmp_path, name, 100))
        os.utime(tmp_path / "cache" / f"{name}.mp3", (1000 + number, 1000 + number))
    assert cache.copy_out("a", tmp_path / "a.mp3")  # a is now the most recently used
    cache.put("c", source(tmp_path, "c", 100))
    kept = sorted(path.stem for path in (tmp_path / "cache").glob("*.mp3"))
    assert kept == ["a", "c"]
    cache.put("huge", source(tmp_path, "huge", 1000))  # bigger than the whole cache: not kept, nothing dropped
    assert sorted(path.stem for path in (tmp_path / "cache").glob("*.mp3")) == ["a", "c"]
