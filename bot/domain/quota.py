"""Credit protection as a pure rule over counts the store reads, so every backend enforces the same limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

DAY_SECONDS = 86_400.0
QuotaLimit = Literal["active", "cooldown", "user_daily", "guild_daily"]


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """Credit protection per member and per server; 0 turns a limit off."""

    max_active_per_user: int = 2
    daily_per_user: int = 20
    daily_per_guild: int = 0
    cooldown_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """What a requester has used, as the store counts it at the moment of a new request.

    `user_day` and `guild_day` are the creation times of the charged tasks of the last 24 hours, newest first,
    at most as many as the limit (a failed or cancelled task that made no song is given back and not listed).
    """

    active: int
    last_request_at: float | None
    user_day: Sequence[float]
    guild_day: Sequence[float]


class QuotaExceeded(Exception):
    """A new task would break `QuotaPolicy`; `retry_at` (epoch seconds) is when it would not, if known."""

    def __init__(self, limit: QuotaLimit, retry_at: float | None) -> None:
        super().__init__(limit)
        self.limit: QuotaLimit = limit
        self.retry_at = retry_at


def check_quota(policy: QuotaPolicy, usage: QuotaUsage, now: float) -> None:
    """Raise `QuotaExceeded` for the first limit a new task would break."""
    if policy.max_active_per_user and usage.active >= policy.max_active_per_user:
        raise QuotaExceeded("active", None)
    last = usage.last_request_at
    if policy.cooldown_seconds and last is not None and now - last < policy.cooldown_seconds:
        raise QuotaExceeded("cooldown", last + policy.cooldown_seconds)
    windows: tuple[tuple[QuotaLimit, int, Sequence[float]], ...] = (
        ("user_daily", policy.daily_per_user, usage.user_day),
        ("guild_daily", policy.daily_per_guild, usage.guild_day),
    )
    for limit_name, limit, created in windows:
        if limit and len(created) >= limit:
            raise QuotaExceeded(limit_name, created[limit - 1] + DAY_SECONDS)
