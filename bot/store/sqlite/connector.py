"""The one SQLite connection of the process: the shared queries' placeholders, serialized write transactions, and
the one place where SQLite's failures to do the work become `StoreUnavailable`."""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiosqlite

from bot.store import StoreUnavailable
from bot.store.rows import Row
from bot.store.sqlite.files import describe

NUMBERED = re.compile(r"\$(\d+)")

# SQLite's primary result codes that say the database cannot do the work now, whatever the query: locked past the
# busy timeout, a full or failing disk, a read-only or vanished file, a damaged one. A query's own fault (a violated
# constraint, a syntax error) stays what it is.
UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
    }
)


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Raise SQLite's operational errors as `StoreUnavailable`, one line with SQLite's own words."""
    try:
        yield
    except sqlite3.Error as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF not in UNAVAILABLE_CODES:  # unset when sqlite3 raised it
            raise
        raise StoreUnavailable(describe(error)) from None


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
        with unavailable_on_failure():
            return list(await self.db.execute_fetchall(numbered(sql), args))

    async def value(self, sql: str, *args: Any) -> Any:
        row = await self.one(sql, *args)
        return row[0] if row is not None else None

    async def execute(self, sql: str, *args: Any) -> int:
        with unavailable_on_failure():
            cursor = await self.db.execute(numbered(sql), args)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with unavailable_on_failure():
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
            with unavailable_on_failure():
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteSession(self.db)
                    await self.db.execute("COMMIT")
                except BaseException:
                    # A failed COMMIT (disk full, I/O error) can leave the transaction open, and a failed statement
                    # may already have rolled it back: end it either way, so the next write can begin.
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
