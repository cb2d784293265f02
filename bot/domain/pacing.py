"""The pace of calls a provider allows per API key, as an interface: one process alone, or many sharing the key.

`RateLimiter` (bot.providers) keeps the pace in memory for a single process; the PostgreSQL store's pacer keeps
it in a shared row, so every process using the key together stays within the documented limits.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

# Every pacer widens its spacing by this fraction, so that network jitter cannot make two requests arrive at the
# provider closer together than its documented limit.
PACING_MARGIN = 0.05


class Pacer(Protocol):
    """Spaces the calls of one operation on one API key."""

    @property
    def rate(self) -> float:
        """Calls per second it lets through at most, over time."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait for the next free slot and make the call inside the block; a slot not used is wasted, safely."""

    async def back_off(self, seconds: float | None = None) -> None:
        """After a rate-limit answer, keep every caller out for `seconds` (one slot's worth when None)."""

    def remember(self, seconds_ago: float) -> None:
        """Count a call an earlier run made `seconds_ago`, so a restart cannot send early."""


# Builds the pacer of an operation ("submit", "poll") allowing `calls` calls in any `period` seconds.
PacerFactory = Callable[[str, int, float], Pacer]
