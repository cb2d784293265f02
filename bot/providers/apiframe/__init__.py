"""apiframe (v1, `api.apiframe.pro`): its client, answers, webhook and capabilities, as one plug-in."""

from __future__ import annotations

import aiohttp

from bot.config import Settings
from bot.domain.pacing import PacerFactory
from bot.providers.apiframe.capabilities import CAPABILITIES, MODELS
from bot.providers.apiframe.client import ApiframeProvider
from bot.providers.apiframe.tasks import parse_song, parse_task
from bot.providers.apiframe.webhook import APIFRAME_WEBHOOK_PATH, ApiframeWebhook
from bot.providers.base import Provider
from bot.providers.plugin import ProviderPlugin

__all__ = [
    "APIFRAME_WEBHOOK_PATH",
    "CAPABILITIES",
    "MODELS",
    "PLUGIN",
    "ApiframeProvider",
    "ApiframeWebhook",
    "parse_song",
    "parse_task",
]


def create(
    settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None, pacers: PacerFactory
) -> Provider:
    """apiframe documents no rate limits; with a secret, each submission asks for webhooks to the receiver."""
    return ApiframeProvider(
        session,
        settings.apiframe_base_url,
        settings.apiframe_key,
        webhook_url=f"{settings.public_webhook_url}{APIFRAME_WEBHOOK_PATH}" if webhook_secret else None,
        webhook_secret=webhook_secret,
    )


PLUGIN = ProviderPlugin(CAPABILITIES, create)
