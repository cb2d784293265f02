"""SQLite, the embedded default store: one file, one process, WAL, migrations from numbered `.sql` files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

from bot.store import DatabaseInfo, StoreUnavailable
from bot.store.sqlite.community import SqliteCommunity
from bot.store.sqlite.connection import migrations
from bot.store.sqlite.files import DatabaseLock, backup_database, check_path, describe, inspect_database
from bot.store.sqlite.listening import SqliteListening
from bot.store.sqlite.meta import SqliteMeta
from bot.store.sqlite.songs import SqliteSongs
from bot.store.sqlite.tasks import SqliteTasks
from bot.store.sqlite.wholesongs import SqliteWholeSongs

__all__ = ["DatabaseInfo", "SqliteStore", "backup_database", "inspect_database", "migrations"]


class SqliteStore(SqliteTasks, SqliteSongs, SqliteCommunity, SqliteWholeSongs, SqliteMeta, SqliteListening):
    """The `Store` protocol on one SQLite file; each concern's queries live in their own module."""

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Lock, open (creating the folder and file if needed), migrate and write-probe the database.

        Any problem raises `StoreUnavailable` with one line saying why, and leaves nothing open behind it.
        """
        lock = None
        if str(path) != ":memory:":
            check_path(path)
            lock = DatabaseLock.acquire(path)
        try:
            connection = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            if lock:
                lock.release()
            raise StoreUnavailable(describe(error)) from None
        store = cls(connection, lock)
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA busy_timeout=5000")
            await store.migrate()
            await store.probe_write()
        except BaseException as error:
            await store.close()
            if isinstance(error, sqlite3.Error):
                raise StoreUnavailable(describe(error)) from None
            raise
        return store
