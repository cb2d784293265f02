"""What a server's managers read and change: its settings, its usage, and the credits left with the provider."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.records import GuildSettings, Usage
from bot.providers import Provider, ProviderError
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Credits:
    """What the provider says is left: `left` (None when it reports none), or `error` when it did not answer."""

    provider: str
    left: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UsageReport:
    """A server's last `days` (UTC dates, oldest first), what it asked for in them, and the credits left with each
    configured provider, in the operator's order."""

    days: list[str]
    usage: Usage
    credits: list[Credits]


class ServerAdmin:
    """A server's settings, usage and credits; permission checks stay with the Discord side, which knows roles."""

    def __init__(self, store: Store, providers: Sequence[Provider], *, default_daily_limit: int) -> None:
        self._store = store
        self._providers = list(providers)
        self.default_daily_limit = default_daily_limit
        """The `.env` daily limit per server (0: none), which a server's own `daily_limit` replaces."""

    async def update_settings(self, guild_id: int, changes: Mapping[str, Any]) -> GuildSettings:
        """Apply `changes` (setting name → value; None restores the default) and return the settings now."""
        return await self._store.update_guild_settings(guild_id, changes)

    async def usage(self, guild_id: int, *, days: int, now: float) -> UsageReport:
        """The last `days` UTC days up to `now` (epoch seconds), today included, and what the provider has left."""
        today = datetime.datetime.fromtimestamp(now, datetime.UTC).date()
        dates = [(today - datetime.timedelta(days=back)).isoformat() for back in reversed(range(days))]
        start = datetime.datetime.fromisoformat(dates[0]).replace(tzinfo=datetime.UTC).timestamp()
        usage = await self._store.usage(guild_id, since=start)
        return UsageReport(dates, usage, list(await asyncio.gather(*map(self.credits, self._providers))))

    @staticmethod
    async def credits(provider: Provider) -> Credits:
        try:
            return Credits(provider.name, await provider.credits())
        except ProviderError as error:
            return Credits(provider.name, None, error=error.message)
