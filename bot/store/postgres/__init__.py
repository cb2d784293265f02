"""PostgreSQL, the shared store: any number of Encore processes on one database, each through a pool."""

from __future__ import annotations

import asyncpg

from bot.store.postgres.community import PostgresCommunity
from bot.store.postgres.connection import migrations
from bot.store.postgres.inspect import inspect_database
from bot.store.postgres.listening import PostgresListening
from bot.store.postgres.meta import PostgresMeta
from bot.store.postgres.pacer import PostgresPacer
from bot.store.postgres.signals import PostgresSignals
from bot.store.postgres.songs import PostgresSongs
from bot.store.postgres.tasks import PostgresTasks
from bot.store.postgres.wholesongs import PostgresWholeSongs

__all__ = ["PostgresPacer", "PostgresStore", "inspect_database", "migrations"]


class PostgresStore(
    PostgresTasks,
    PostgresSongs,
    PostgresCommunity,
    PostgresWholeSongs,
    PostgresMeta,
    PostgresSignals,
    PostgresListening,
):
    """The `Store` protocol on a PostgreSQL database; each concern's queries live in their own module."""

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

    def pacer(self, key: str, calls: int, period: float) -> PostgresPacer:
        """The shared pacer of one operation on one provider key: `calls` calls per `period` seconds in total."""
        return PostgresPacer(self._pool, key, calls, period)
