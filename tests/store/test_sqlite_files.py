"""The SQLite file from outside: one process at a time, clear refusals of a bad file, online backups."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.domain.models import Requester
from bot.store import StoreUnavailable
from bot.store.sqlite import SqliteStore, backup_database, inspect_database
from tests.store.test_lifecycle import REQUEST


async def test_a_second_open_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "encore.db"
    first = await SqliteStore.open(path)
    with pytest.raises(StoreUnavailable, match="another Encore is running"):
        await SqliteStore.open(path)
    assert inspect_database(path).in_use
    await first.close()
    assert not inspect_database(path).in_use
    again = await SqliteStore.open(path)
    await again.close()


async def test_a_file_that_is_not_a_database_is_refused_and_nothing_stays_open(tmp_path: Path) -> None:
    path = tmp_path / "encore.db"
    path.write_bytes(b"these are not the pages of an SQLite database" * 100)
    before = set(threading.enumerate())
    with pytest.raises(StoreUnavailable, match="is not an SQLite database"):
        await SqliteStore.open(path)
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)  # aiosqlite's thread (not a daemon) must end with its connection
        assert not thread.is_alive()
    with pytest.raises(StoreUnavailable, match="is not an SQLite database"):
        inspect_database(path)
    path.unlink()
    await (await SqliteStore.open(path)).close()  # the refused file's lock was released too


async def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="is a folder"):
        await SqliteStore.open(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreUnavailable, match="cannot create its folder"):
        await SqliteStore.open(tmp_path / "file" / "encore.db")


async def test_inspect_reports_the_schema_tasks_and_results_channels(tmp_path: Path) -> None:
    path = tmp_path / "encore.db"
    assert not inspect_database(path).exists
    store = await SqliteStore.open(path)
    await store.create_task(Requester(user_id=1, channel_id=2, guild_id=3), "sunoapi", REQUEST)
    await store.update_guild_settings(3, {"results_channel_id": 44})
    info = inspect_database(path)
    await store.close()
    assert (info.exists, info.task_counts, info.results_channels) == (True, {"queued": 1}, {3: 44})
    assert info.schema_version >= 6 and info.size_bytes > 0


async def test_a_backup_is_one_self_contained_file(tmp_path: Path) -> None:
    path = tmp_path / "encore.db"
    store = await SqliteStore.open(path)
    await store.create_task(Requester(user_id=1, channel_id=2, guild_id=3), "sunoapi", REQUEST)
    copy = tmp_path / "backups" / "copy.db"
    copy.parent.mkdir()
    assert backup_database(path, copy) == 1
    await store.close()
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sorted(p.name for p in copy.parent.iterdir()) == ["copy.db"]
    with pytest.raises(StoreUnavailable, match="no database file"):
        backup_database(tmp_path / "missing.db", copy)
