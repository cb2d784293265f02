"""A pool of PostgreSQL connections shared by the process's loops: the shared queries run on it as they are, and
PostgreSQL's failures to do the work become `StoreUnavailable` here, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from bot.store import StoreUnavailable
from bot.store.rows import Row

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A connection borrowed from the pool (only the type stubs make it generic).
    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    Handle: TypeAlias = asyncpg.Pool[asyncpg.Record] | Connection


# The server cannot be reached or cannot do the work now, whatever the query: the connection lost or refused, the
# server out of connections or disk, shut down or cancelling, a lock not granted in time, a read-only standby. A
# query's own fault (a violated constraint, a syntax error) stays what it is.
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.LockNotAvailableError,
    asyncpg.ReadOnlySQLTransactionError,
)


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Raise PostgreSQL's operational errors as `StoreUnavailable`: one line, the server's words, no address."""
    try:
        yield
    except UNAVAILABLE as error:
        text = " ".join(str(error).split()) or type(error).__name__
        raise StoreUnavailable(f"PostgreSQL cannot be used now ({text})") from None


def changed(status: str) -> int:
    """How many rows a command changed, from its status tag (`UPDATE 1`, `INSERT 0 1`, `DELETE 0`)."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresSession:
    """Statements on the pool (each borrows a connection) or on the connection of an open transaction."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    async def one(self, sql: str, *args: Any) -> Row | None:
        with unavailable_on_failure():
            return await self._handle.fetchrow(sql, *args)

    async def all(self, sql: str, *args: Any) -> Sequence[Row]:
        with unavailable_on_failure():
            return await self._handle.fetch(sql, *args)

    async def value(self, sql: str, *args: Any) -> Any:
        with unavailable_on_failure():
            return await self._handle.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        with unavailable_on_failure():
            return changed(await self._handle.execute(sql, *args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with unavailable_on_failure():
            await self._handle.executemany(sql, rows)


class PostgresConnector(PostgresSession):
    """Owns the pool; a transaction holds one of its connections until it commits."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        super().__init__(pool)
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresSession]:
        with unavailable_on_failure():
            async with self.pool.acquire() as connection, connection.transaction():
                yield PostgresSession(connection)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of the pool in a transaction, for what the shared queries do not cover (migrations, COPY)."""
        with unavailable_on_failure():
            async with self.pool.acquire() as connection, connection.transaction():
                yield connection
