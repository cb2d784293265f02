"""A pool of PostgreSQL connections shared by the process's loops, migrations under an advisory lock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from bot.domain.models import TaskStatus
from bot.store.rows import in_list, newer_schema, numbered_scripts

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A connection borrowed from the pool (only the type stubs make it generic).
    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]

# `pg_advisory_xact_lock` key of schema changes: processes that start at once migrate one after the other.
MIGRATION_LOCK = "encore:migrate"
# The database's clock in epoch seconds: leases and pacing read one clock, whichever machine asks.
DB_NOW = "extract(epoch FROM clock_timestamp())::double precision"
# Wakes the other processes (payload `queued:<id>` or `succeeded:<id>`); sent at commit, lost if nobody listens.
CHANNEL = "encore_tasks"
NOTIFY = f"SELECT pg_notify('{CHANNEL}', $1)"


def migrations() -> list[tuple[int, str, str]]:
    """The numbered `.sql` files beside this module, in order: (version, name, script)."""
    return numbered_scripts(__package__ or "bot.store.postgres", "PostgreSQL")


def changed(status: str) -> int:
    """How many rows a command changed, from its status tag (`UPDATE 1`, `INSERT 0 1`, `DELETE 0`)."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresConnection:
    """Owns the pool; each query borrows a connection, each transaction holds one until it commits."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], url: str) -> None:
        self._pool = pool
        self._url = url

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield connection

    async def schema_version(self) -> int:
        """The newest migration applied (0 for an empty database)."""
        exists = await self._pool.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists:
            return 0
        return int(await self._pool.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    async def migrate(self) -> int:
        """Apply every migration the database lacks, all in one transaction; return the resulting version.

        The transaction first takes an advisory lock, so of several processes starting on an empty database one
        migrates it and the others, waiting on the lock, then find nothing left to do.
        """
        scripts = migrations()
        async with self._transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", MIGRATION_LOCK)
            await db.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL
                )
                """
            )
            current = int(await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
            if current > len(scripts):
                raise newer_schema(current, len(scripts))
            for version, name, script in scripts[current:]:
                await db.execute(script)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    version,
                    name,
                    time.time(),
                )
        return len(scripts)

    async def _one(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._pool.fetchrow(sql, *args)

    async def _all(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._pool.fetch(sql, *args)

    async def _value(self, sql: str, *args: Any) -> Any:
        return await self._pool.fetchval(sql, *args)

    async def _write(self, sql: str, *args: Any) -> int:
        """One statement in its own transaction; return how many rows it changed."""
        return changed(await self._pool.execute(sql, *args))

    async def _update_task(self, task_id: int, expected: Iterable[TaskStatus] | None = None, **fields: Any) -> bool:
        """Set some columns of a task, only while it is in one of the `expected` statuses; return whether it was.

        Like every transition, it ends the lease on the task.
        """
        fields.update(updated_at=time.time(), lease_owner=None, lease_until=None)
        assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(fields, start=2))
        condition = f" AND status IN {in_list(expected)}" if expected is not None else ""
        sql = f"UPDATE tasks SET {assignments} WHERE id = $1{condition}"
        return await self._write(sql, task_id, *fields.values()) == 1
