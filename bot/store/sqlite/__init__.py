"""SQLite, the embedded default store: one file, one process, WAL, migrations from numbered `.sql` files."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from bot.store.sqlite.community import SqliteCommunity
from bot.store.sqlite.connection import migrations
from bot.store.sqlite.meta import SqliteMeta
from bot.store.sqlite.songs import SqliteSongs
from bot.store.sqlite.tasks import SqliteTasks
from bot.store.sqlite.wholesongs import SqliteWholeSongs

__all__ = ["SqliteStore", "migrations"]


class SqliteStore(SqliteTasks, SqliteSongs, SqliteCommunity, SqliteWholeSongs, SqliteMeta):
    """The `Store` protocol on one SQLite file; each concern's queries live in their own module."""

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating the folder and file if needed) and migrate the database."""
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        store = cls(connection)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        await connection.execute("PRAGMA busy_timeout=5000")
        await store.migrate()
        return store
