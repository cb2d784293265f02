"""What the registry knows of one provider package: its capabilities and how to build its client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bot.config import Settings
from bot.domain.capabilities import ProviderCapabilities
from bot.domain.pacing import PacerFactory
from bot.providers.base import Provider

# Builds a provider's client from the settings: `webhook_secret` is the install's secret when pushed updates are on
# (None: poll only), and `pacers` builds the pacer of each rate-limited operation (per process, or shared).
ProviderFactory = Callable[[Settings, aiohttp.ClientSession, "str | None", PacerFactory], Provider]


@dataclass(frozen=True, slots=True)
class ProviderPlugin:
    """One provider, as its package exports it (`PLUGIN`) and the registry lists it."""

    capabilities: ProviderCapabilities
    create: ProviderFactory

    @property
    def name(self) -> str:
        return self.capabilities.name
