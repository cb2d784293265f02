"""A provider's per-key limits shared by every process: one row per (provider, key hash, operation) in PostgreSQL.

A caller holds the row (`SELECT … FOR UPDATE`) from its wait until its call is done, and sets the next free
instant from the database's clock when it lets go: at least one interval after the end of its call. Callers on
any machine therefore send one at a time, each at least an interval after the previous request reached the
provider, however late a process ran between its turn and its send (a reservation of future slots would let
a delayed caller land too close to the next one). A process that dies mid-call drops its connection, and with
it the row lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from bot.domain.pacing import PACING_MARGIN

ENSURE = "INSERT INTO pacer (key) VALUES ($1) ON CONFLICT DO NOTHING"
HOLD = "SELECT EXTRACT(EPOCH FROM next_at - clock_timestamp())::double precision FROM pacer WHERE key = $1 FOR UPDATE"
PUSH = """
UPDATE pacer SET next_at = GREATEST(next_at, clock_timestamp() + make_interval(secs => $2)) WHERE key = $1
"""


class PostgresPacer:
    """At most `calls` calls per `period` seconds in total, one at a time, an interval of period/calls apart.

    The interval is widened by the same margin as the in-process limiter's window.
    """

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], key: str, calls: int, period: float) -> None:
        self._pool = pool
        self.key = key
        self.interval = period / calls * (1 + PACING_MARGIN)
        # One holder per process at a time; a back-off asked for meanwhile is applied when it lets go.
        self._holding = asyncio.Lock()
        self._pending_back_off = 0.0

    @property
    def rate(self) -> float:
        return 1 / self.interval

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._holding, self._pool.acquire() as db:
            await db.execute(ENSURE, self.key)
            async with db.transaction():
                wait = await db.fetchval(HOLD, self.key)
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    yield
                finally:
                    pause, self._pending_back_off = max(self.interval, self._pending_back_off), 0.0
                    await db.execute(PUSH, self.key, pause)

    async def back_off(self, seconds: float | None = None) -> None:
        pause = seconds or self.interval
        if self._holding.locked():  # the row is held by this process's caller: it pushes it when done
            self._pending_back_off = max(self._pending_back_off, pause)
            return
        await self._pool.execute(ENSURE, self.key)
        await self._pool.execute(PUSH, self.key, pause)

    def remember(self, seconds_ago: float) -> None:
        """Nothing to do: the shared row already holds the next free instant, across restarts too."""
