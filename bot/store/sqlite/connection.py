"""The one SQLite connection of the process: serialized write transactions, migrations, rows into records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from bot.domain.models import TaskStatus
from bot.store.rows import in_list, newer_schema, numbered_scripts
from bot.store.sqlite.files import DatabaseLock
from bot.store.sqlite.leases import Leases


def migrations() -> list[tuple[int, str, str]]:
    """The numbered `.sql` files beside this module, in order: (version, name, script)."""
    return numbered_scripts(__package__ or "bot.store.sqlite", "SQLite")


class SqliteConnection:
    """Owns the connection; every write is one `BEGIN IMMEDIATE` transaction under a lock."""

    def __init__(self, connection: aiosqlite.Connection, lock: DatabaseLock | None = None) -> None:
        self._db = connection
        self._db.row_factory = aiosqlite.Row
        self._write_lock = asyncio.Lock()
        self._file_lock = lock
        self._leases = Leases()

    async def close(self) -> None:
        """Close the connection (its thread ends with it), then let another process have the file."""
        try:
            await self._db.close()
        finally:
            if self._file_lock is not None:
                self._file_lock.release()

    async def probe_write(self) -> None:
        """Take the write lock and give it back: a read-only or locked file is found at start, not at a /extend."""
        async with self._transaction():
            pass

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full, I/O error) can leave the transaction open, and a failed statement may
                # already have rolled it back: end it either way, so the next write can begin.
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply every migration newer than the database's `user_version`; return the resulting version."""
        current = await self.schema_version()
        scripts = migrations()
        if current > len(scripts):
            raise newer_schema(current, len(scripts))
        for version, _, script in scripts[current:]:
            async with self._transaction() as db:
                for statement in _statements(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")
        return len(scripts)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._all(sql, params)
        return next(iter(rows), None)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> Iterable[aiosqlite.Row]:
        """Run a query and fetch its rows in one trip to the database thread (the hot path's main cost)."""
        return await self._db.execute_fetchall(sql, params)

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; return how many rows it changed."""
        async with self._transaction() as db:
            cursor = await db.execute(sql, params)
            return cursor.rowcount

    async def _update_task(self, task_id: int, expected: Iterable[TaskStatus] | None = None, **fields: Any) -> bool:
        """Set some columns of a task, only while it is in one of the `expected` statuses; return whether it was.

        Like every transition, it ends the lease on the task.
        """
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        condition = f" AND status IN {in_list(expected)}" if expected is not None else ""
        changed = await self._write(
            f"UPDATE tasks SET {assignments} WHERE id = ?{condition}", (*fields.values(), task_id)
        )
        return self._moved(task_id, changed)

    def _moved(self, task_id: int, changed: int) -> bool:
        """Whether a transition of the task happened (`changed` rows); if it did, its lease ends with it."""
        if changed != 1:
            return False
        self._leases.release(task_id)
        return True


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]
