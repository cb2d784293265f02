"""The one SQLite connection of the process: the shared queries' placeholders, serialized write transactions."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from bot.store.rows import Row

NUMBERED = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """PostgreSQL's `$1` placeholders as SQLite's `?1`, which also bind by number (and may repeat)."""
    return NUMBERED.sub(r"?\1", sql)


class SqliteSession:
    """Statements on the connection; inside `SqliteConnector.transaction` they join the open transaction."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.db = connection

    async def one(self, sql: str, *args: Any) -> Row | None:
        return next(iter(await self.all(sql, *args)), None)

    async def all(self, sql: str, *args: Any) -> Sequence[Row]:
        """Run a query and fetch its rows in one trip to the database thread (the hot path's main cost)."""
        return list(await self.db.execute_fetchall(numbered(sql), args))

    async def value(self, sql: str, *args: Any) -> Any:
        row = await self.one(sql, *args)
        return row[0] if row is not None else None

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self.db.execute(numbered(sql), args)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.db.executemany(numbered(sql), rows)


class SqliteConnector(SqliteSession):
    """Owns the connection; every write is one `BEGIN IMMEDIATE` transaction under a lock."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        super().__init__(connection)
        self.db.row_factory = aiosqlite.Row
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteSession]:
        async with self._write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteSession(self.db)
                await self.db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full, I/O error) can leave the transaction open, and a failed statement may
                # already have rolled it back: end it either way, so the next write can begin.
                if self.db.in_transaction:
                    await self.db.execute("ROLLBACK")
                raise

    async def execute(self, sql: str, *args: Any) -> int:
        """One statement in its own transaction; return how many rows it changed."""
        async with self.transaction() as db:
            return await db.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as db:
            await db.executemany(sql, rows)
