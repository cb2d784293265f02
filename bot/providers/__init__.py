"""Provider clients behind one interface, chosen by configuration."""

from __future__ import annotations

import aiohttp

from bot.config import Settings
from bot.providers.apiframe import APIFRAME_WEBHOOK_PATH, ApiframeProvider
from bot.providers.base import (
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    RateLimiter,
)
from bot.providers.sunoapi import SunoApiProvider

__all__ = [
    "ApiframeProvider",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderUnavailable",
    "RateLimiter",
    "SunoApiProvider",
    "create_provider",
]


def create_provider(
    settings: Settings, session: aiohttp.ClientSession, *, webhook_secret: str | None = None
) -> Provider:
    """The client of the configured provider; apiframe submissions ask for webhooks when a secret is given."""
    if settings.provider == "sunoapi":
        interval = settings.sunoapi_submit_interval
        return SunoApiProvider(
            session,
            settings.sunoapi_base_url,
            settings.sunoapi_key,
            submit_limiter=RateLimiter(1, interval) if interval else None,
            poll_limiter=RateLimiter.per_second(settings.sunoapi_polls_per_second),
        )
    return ApiframeProvider(
        session,
        settings.apiframe_base_url,
        settings.apiframe_key,
        webhook_url=f"{settings.public_webhook_url}{APIFRAME_WEBHOOK_PATH}" if webhook_secret else None,
        webhook_secret=webhook_secret,
    )
