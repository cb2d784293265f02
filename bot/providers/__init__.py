"""Provider clients behind one interface, chosen by configuration through one registry."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from bot.config import Settings
from bot.providers.apiframe import APIFRAME_WEBHOOK_PATH, ApiframeProvider
from bot.providers.base import (
    Provider,
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    RateLimiter,
)
from bot.providers.sunoapi import SunoApiProvider

__all__ = [
    "PROVIDERS",
    "ApiframeProvider",
    "Provider",
    "ProviderAnswerMalformed",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderUnavailable",
    "RateLimiter",
    "SunoApiProvider",
    "create_provider",
]

ProviderFactory = Callable[[Settings, aiohttp.ClientSession, "str | None"], Provider]


def _sunoapi(settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None) -> Provider:
    interval = settings.sunoapi_submit_interval
    return SunoApiProvider(
        session,
        settings.sunoapi_base_url,
        settings.sunoapi_key,
        submit_limiter=RateLimiter(1, interval) if interval else None,
        poll_limiter=RateLimiter.per_second(settings.sunoapi_polls_per_second),
    )


def _apiframe(settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None) -> Provider:
    return ApiframeProvider(
        session,
        settings.apiframe_base_url,
        settings.apiframe_key,
        webhook_url=f"{settings.public_webhook_url}{APIFRAME_WEBHOOK_PATH}" if webhook_secret else None,
        webhook_secret=webhook_secret,
    )


# The one place that knows every provider: adding one is its client, its capabilities and an entry here.
PROVIDERS: dict[str, ProviderFactory] = {"sunoapi": _sunoapi, "apiframe": _apiframe}


def create_provider(
    settings: Settings, session: aiohttp.ClientSession, *, webhook_secret: str | None = None
) -> Provider:
    """The client of the configured provider; submissions ask for webhooks when a secret is given."""
    return PROVIDERS[settings.provider](settings, session, webhook_secret)
