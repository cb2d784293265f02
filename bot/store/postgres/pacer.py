"""A provider's per-key limits shared by every process: one row per (provider, key hash, operation) in PostgreSQL.

Each caller reserves the next free instant atomically on the database's clock, so callers on any machine get
distinct slots `interval` apart and none sends early (only a duration leaves the database, never a clock
reading). A slot reserved and not used is wasted, which is safe.
"""

from __future__ import annotations

import asyncio

import asyncpg

from bot.domain.pacing import PACING_MARGIN

RESERVE = """
INSERT INTO pacer (key, next_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(pacer.next_at, clock_timestamp()) + make_interval(secs => $2)
RETURNING EXTRACT(EPOCH FROM (next_at - make_interval(secs => $2)) - clock_timestamp())::double precision
"""
BACK_OFF = """
INSERT INTO pacer (key, next_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(pacer.next_at, clock_timestamp() + make_interval(secs => $2))
"""


class PostgresPacer:
    """At most `calls` calls per `period` seconds in total, spread evenly: one slot every period/calls seconds.

    Slots are widened by the same margin as the in-process limiter, so network jitter cannot bring two requests
    closer together at the provider than its documented limit.
    """

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], key: str, calls: int, period: float) -> None:
        self._pool = pool
        self.key = key
        self.interval = period / calls * (1 + PACING_MARGIN)

    @property
    def rate(self) -> float:
        return 1 / self.interval

    async def acquire(self) -> None:
        wait = await self._pool.fetchval(RESERVE, self.key, self.interval)
        if wait > 0:
            await asyncio.sleep(wait)

    async def back_off(self, seconds: float | None = None) -> None:
        await self._pool.execute(BACK_OFF, self.key, seconds or self.interval)

    def remember(self, seconds_ago: float) -> None:
        """Nothing to do: the shared row already holds the next free instant, across restarts too."""
