"""What a backend's driver must offer the SQL written once: queries with numbered placeholders, and transactions.

The shared queries are written with PostgreSQL's numbered placeholders (`$1`, `$2`, …, reusable); each connector
runs them on its driver (SQLite's connector rewrites them to its own `?1`, `?2`). Rows read by column name and by
position, as both `sqlite3.Row` and `asyncpg.Record` do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.store.rows import Row


class Session(Protocol):
    """Statements on one database handle: a pool or connection in autocommit, or an open transaction."""

    async def one(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or None."""

    async def all(self, sql: str, *args: Any) -> Sequence[Row]: ...

    async def value(self, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement (in its own transaction unless inside one); return how many rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Connector(Session, Protocol):
    """A backend's handle on its database, as the shared queries use it."""

    def transaction(self) -> AbstractAsyncContextManager[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
