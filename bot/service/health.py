"""Which providers answer: one that keeps failing is skipped for a cool-down, then tried again.

Only the provider's own trouble counts (a refused connection, a timeout, a 5xx, a rate limit); a refusal of one
request (bad input, a bad key) says nothing about whether it is up. Kept per process: each process learns it from
its own calls, and a wrong guess costs one refused connection, never a credit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.providers import ProviderError, ProviderRateLimited, ProviderUnavailable
from bot.service.ports import Metrics, NoMetrics


@dataclass(slots=True)
class ProviderState:
    """One provider's recent record: failures in a row, until when it is skipped, and why."""

    failures: int = 0
    down_until: float = 0.0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What `/healthz` and `python -m bot check` show of one provider."""

    provider: str
    up: bool
    failures: int
    retry_in: float  # seconds until it is tried again (0 when up)
    last_error: str | None


class ProviderHealth:
    """Counts each provider's failures in a row; `failures_before_cooldown` of them skip it for `cooldown` s.

    After the cool-down the next call tries it again: one success makes it healthy, one more failure skips it
    for another cool-down.
    """

    def __init__(
        self,
        providers: Iterable[str],
        *,
        failures_before_cooldown: int = 3,
        cooldown: float = 60.0,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._states = {name: ProviderState() for name in providers}
        self.failures_before_cooldown = max(1, failures_before_cooldown)
        self.cooldown = cooldown
        self._metrics = metrics or NoMetrics()
        self._clock = clock

    def succeeded(self, provider: str) -> None:
        state = self._states[provider]
        was_down = state.failures >= self.failures_before_cooldown
        state.failures, state.down_until, state.last_error = 0, 0.0, None
        if was_down:
            self._metrics.provider_health(provider, up=True)

    def failed(self, provider: str, error: ProviderError) -> None:
        """Count a failed call when it was the provider's trouble (unreachable, timed out, 5xx, rate limited)."""
        if not isinstance(error, ProviderUnavailable | ProviderRateLimited):
            return
        state = self._states[provider]
        state.failures += 1
        state.last_error = error.message[:200]
        if state.failures >= self.failures_before_cooldown:
            state.down_until = self._clock() + max(self.cooldown, error.retry_after or 0.0)
            self._metrics.provider_health(provider, up=False)

    def is_down(self, provider: str) -> bool:
        return self.retry_in(provider) > 0

    def retry_in(self, provider: str) -> float:
        """Seconds until a skipped provider is tried again; 0 when it may be called now."""
        return max(0.0, self._states[provider].down_until - self._clock())

    def report(self) -> list[HealthReport]:
        """Every provider's state, in the configured order."""
        return [
            HealthReport(name, not self.is_down(name), state.failures, self.retry_in(name), state.last_error)
            for name, state in self._states.items()
        ]
