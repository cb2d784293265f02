"""SQLite, the embedded default store: one file, one process, WAL, migrations from numbered `.sql` files.

The SQL is shared (`bot.store.sql`); what is SQLite's own is here: the connection, the schema version in
`user_version`, and leases kept in memory, since no other process shares the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain.models import TaskStatus
from bot.domain.records import TaskRecord
from bot.store import DatabaseInfo, StoreUnavailable
from bot.store.rows import newer_schema, numbered_scripts, task_from_row
from bot.store.sql import SqlStore
from bot.store.sql.connector import Session
from bot.store.sqlite.connector import SqliteConnector
from bot.store.sqlite.files import DatabaseLock, backup_database, check_path, describe, inspect_database
from bot.store.sqlite.leases import Leases

__all__ = ["DatabaseInfo", "SqliteStore", "backup_database", "inspect_database", "migrations"]


def migrations() -> list[tuple[int, str, str]]:
    """The numbered `.sql` files beside this module, in order: (version, name, script)."""
    return numbered_scripts(__package__ or "bot.store.sqlite", "SQLite")


class SqliteStore(SqlStore):
    """The `Store` protocol on one SQLite file."""

    END_LEASE = ""
    SONG_ORDER = "rowid"
    CREATED_DAY = "strftime('%Y-%m-%d', created_at, 'unixepoch')"

    def __init__(self, connection: aiosqlite.Connection, lock: DatabaseLock | None = None) -> None:
        self._db = self._connector = SqliteConnector(connection)
        self._file_lock = lock
        self._leases = Leases()

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
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
                await connection.execute(f"PRAGMA {pragma}")
            await store.migrate()
            await store.probe_write()
        except BaseException as error:
            await store.close()
            if isinstance(error, sqlite3.Error):
                raise StoreUnavailable(describe(error)) from None
            raise
        return store

    async def close(self) -> None:
        """Close the connection (its thread ends with it), then let another process have the file."""
        try:
            await self._connector.db.close()
        finally:
            if self._file_lock is not None:
                self._file_lock.release()

    async def probe_write(self) -> None:
        """Take the write lock and give it back: a read-only or locked file is found at start, not at a /extend."""
        async with self._db.transaction():
            pass

    async def schema_version(self) -> int:
        return int(await self._db.value("PRAGMA user_version") or 0)

    async def migrate(self) -> int:
        """Apply every migration newer than the database's `user_version`; return the resulting version."""
        current = await self.schema_version()
        scripts = migrations()
        if current > len(scripts):
            raise newer_schema(current, len(scripts))
        for version, _, script in scripts[current:]:
            async with self._db.transaction() as db:
                for statement in (part.strip() for part in script.split(";")):
                    if statement:
                        await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")
        return len(scripts)

    # Leases: in memory, taken under one lock, so concurrent claims of this process see each other's.

    async def _claim(
        self, condition: str, order: str, limit: int, owner: str, lease: float, *args: Any
    ) -> list[TaskRecord]:
        """Read enough rows to skip every task leased now, and lease the first `limit` of the others."""
        async with self._leases.claiming:
            rows = await self._db.all(
                f"SELECT * FROM tasks WHERE {condition} ORDER BY {order} LIMIT {int(limit) + len(self._leases)}",
                *args,
            )
            tasks = [task_from_row(row) for row in rows]
            free = set(self._leases.free(task.id for task in tasks))
            taken = [task for task in tasks if task.id in free][:limit]
            for task in taken:
                self._leases.take(task.id, owner, lease)
            return taken

    async def _earliest_unleased(self, condition: str, *args: Any) -> float | None:
        rows = await self._db.all(
            f"SELECT id, next_attempt_at FROM tasks WHERE {condition} ORDER BY next_attempt_at "
            f"LIMIT {len(self._leases) + 1}",
            *args,
        )
        due = {int(row[0]): float(row[1]) for row in rows}
        return min((due[task_id] for task_id in self._leases.free(due)), default=None)

    async def _execute_if_leased(self, task_id: int, owner: str, sql: str, *args: Any) -> int:
        async with self._leases.claiming:
            return await self._db.execute(sql, *args) if self._leases.holds(task_id, owner) else 0

    def _lease_ended(self, task_id: int) -> None:
        self._leases.release(task_id)

    async def _notify(self, session: Session, status: TaskStatus, task_id: int) -> None:
        """Nobody to tell: no other process shares the file."""

    async def _serialize(self, session: Session, key: str) -> None:
        """Nothing to take: the one writer already runs each transaction alone."""

    async def claim_delivery(self, task_id: int, owner: str, lease: float) -> bool:
        async with self._leases.claiming:
            status = await self._db.value("SELECT status FROM tasks WHERE id = $1", task_id)
            if status != TaskStatus.SUCCEEDED or not self._leases.free([task_id]):
                return False
            self._leases.take(task_id, owner, lease)
            return True

    async def renew_leases(self, owner: str, task_ids: Iterable[int], lease: float) -> None:
        self._leases.renew(owner, task_ids, lease)

    async def release_leases(self, owner: str) -> None:
        self._leases.release_all(owner)

    async def listen(self, wake: Callable[[TaskStatus, int], None]) -> None:
        """Nothing to hear: no other process shares an SQLite file, and this one wakes its own loops."""
