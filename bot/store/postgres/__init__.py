"""PostgreSQL, the shared store: any number of Encore processes on one database, each through a pool.

The SQL is shared (`bot.store.sql`); what is PostgreSQL's own is here: leases as columns taken with
`FOR UPDATE SKIP LOCKED` on the database's clock, advisory locks, notifications, and migrations recorded in
`schema_migrations`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg

from bot.domain.models import TaskStatus
from bot.domain.records import TaskRecord
from bot.store.postgres.connector import PostgresConnector
from bot.store.postgres.inspect import inspect_database
from bot.store.postgres.pacer import PostgresPacer
from bot.store.postgres.signals import CHANNEL, Signals
from bot.store.rows import newer_schema, numbered_scripts, task_from_row
from bot.store.sql import SqlStore
from bot.store.sql.connector import Session

__all__ = ["PostgresPacer", "PostgresStore", "inspect_database", "migrations"]

# `pg_advisory_xact_lock` key of schema changes: processes that start at once migrate one after the other.
MIGRATION_LOCK = "encore:migrate"
ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
# The database's clock in epoch seconds: leases and pacing read one clock, whichever machine asks.
DB_NOW = "extract(epoch FROM clock_timestamp())::double precision"
UNLEASED = f"(lease_until IS NULL OR lease_until <= {DB_NOW})"


def migrations() -> list[tuple[int, str, str]]:
    """The numbered `.sql` files beside this module, in order: (version, name, script)."""
    return numbered_scripts(__package__ or "bot.store.postgres", "PostgreSQL")


class PostgresStore(SqlStore):
    """The `Store` protocol on a PostgreSQL database."""

    END_LEASE = ", lease_owner = NULL, lease_until = NULL"
    SONG_ORDER = "seq"
    CREATED_DAY = "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], url: str) -> None:
        self._db = self._connector = PostgresConnector(pool)
        self._signals = Signals(url)

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10) -> PostgresStore:
        """Connect a pool to `url` (`postgresql://user:password@host:port/database`) and migrate the database.

        Every connection is opened here: opening one later would stall the event loop (asyncpg builds its TLS
        context synchronously) in the middle of a burst of work.
        """
        pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
        store = cls(pool, url)
        try:
            await store.migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self._signals.close()
        await self._connector.pool.close()

    def pacer(self, key: str, calls: int, period: float) -> PostgresPacer:
        """The shared pacer of one operation on one provider key: `calls` calls per `period` seconds in total."""
        return PostgresPacer(self._connector.pool, key, calls, period)

    async def schema_version(self) -> int:
        """The newest migration applied (0 for an empty database)."""
        if not await self._db.value("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            return 0
        return int(await self._db.value("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    async def migrate(self) -> int:
        """Apply every migration the database lacks, all in one transaction; return the resulting version.

        The transaction first takes an advisory lock, so of several processes starting on an empty database one
        migrates it and the others, waiting on the lock, then find nothing left to do.
        """
        scripts = migrations()
        async with self._connector.connection() as db:
            await db.execute(ADVISORY_LOCK, MIGRATION_LOCK)
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
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

    # Leases: columns read on the database's clock, so processes on machines whose clocks differ agree on expiry.

    async def _claim(
        self, condition: str, order: str, limit: int, owner: str, lease: float, *args: Any
    ) -> list[TaskRecord]:
        """One statement: `FOR UPDATE SKIP LOCKED` makes concurrent claimers pass over each other's rows instead
        of waiting or taking the same ones; the lease is committed when it returns, before any HTTP call."""
        owner_mark, lease_mark = f"${len(args) + 1}", f"${len(args) + 2}"
        rows = await self._db.all(
            f"""
            WITH picked AS (
                SELECT id FROM tasks WHERE {condition} AND {UNLEASED}
                ORDER BY {order} LIMIT {int(limit)} FOR UPDATE SKIP LOCKED
            )
            UPDATE tasks SET lease_owner = {owner_mark}, lease_until = {DB_NOW} + {lease_mark}
            FROM picked WHERE tasks.id = picked.id
            RETURNING tasks.*
            """,
            *args,
            owner,
            float(lease),
        )
        return sorted((task_from_row(row) for row in rows), key=lambda task: (getattr(task, order), task.id))

    async def _earliest_unleased(self, condition: str, *args: Any) -> float | None:
        value = await self._db.value(f"SELECT MIN(next_attempt_at) FROM tasks WHERE {condition} AND {UNLEASED}", *args)
        return float(value) if value is not None else None

    async def _execute_if_leased(self, task_id: int, owner: str, sql: str, *args: Any) -> int:
        held = f" AND lease_owner = ${len(args) + 1} AND lease_until > {DB_NOW}"
        return await self._db.execute(sql + held, *args, owner)

    def _lease_ended(self, task_id: int) -> None:
        """Nothing to drop: the transition's UPDATE cleared the lease columns (`END_LEASE`)."""

    async def _notify(self, session: Session, status: TaskStatus, task_id: int) -> None:
        await session.execute(f"SELECT pg_notify('{CHANNEL}', $1)", f"{status.value}:{task_id}")

    async def _serialize(self, session: Session, key: str) -> None:
        await session.execute(ADVISORY_LOCK, key)

    async def claim_delivery(self, task_id: int, owner: str, lease: float) -> bool:
        changed = await self._db.execute(
            f"UPDATE tasks SET lease_owner = $2, lease_until = {DB_NOW} + $3 "
            f"WHERE id = $1 AND status = 'succeeded' AND {UNLEASED}",
            task_id,
            owner,
            float(lease),
        )
        return changed == 1

    async def renew_leases(self, owner: str, task_ids: Iterable[int], lease: float) -> None:
        await self._db.execute(
            f"UPDATE tasks SET lease_until = {DB_NOW} + $3 WHERE lease_owner = $1 AND id = ANY($2::bigint[])",
            owner,
            list(task_ids),
            float(lease),
        )

    async def release_leases(self, owner: str) -> None:
        await self._db.execute("UPDATE tasks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", owner)

    async def listen(self, wake: Callable[[TaskStatus, int], None]) -> None:
        await self._signals.listen(wake)
