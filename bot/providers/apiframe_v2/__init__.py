"""apiframe v2 (`api.apiframe.ai/v2`): its client, job answers, signed webhook and capabilities, as one plug-in."""

from __future__ import annotations

import aiohttp

from bot.config import Settings
from bot.domain.pacing import PacerFactory
from bot.providers.apiframe_v2.capabilities import CAPABILITIES, DEFAULT_MODEL, MODELS
from bot.providers.apiframe_v2.client import ApiframeV2Provider
from bot.providers.apiframe_v2.jobs import parse_job
from bot.providers.apiframe_v2.webhook import WEBHOOK_PATH, ApiframeV2Webhook, signing_key
from bot.providers.base import Provider
from bot.providers.plugin import ProviderPlugin

__all__ = [
    "CAPABILITIES",
    "DEFAULT_MODEL",
    "MODELS",
    "PLUGIN",
    "WEBHOOK_PATH",
    "ApiframeV2Provider",
    "ApiframeV2Webhook",
    "parse_job",
    "signing_key",
]


def create(
    settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None, pacers: PacerFactory
) -> Provider:
    """No rate limits are documented; with pushed updates on and an HTTPS PUBLIC_WEBHOOK_URL, each submission asks
    for signed webhooks (the signature is keyed by the API key, so the install's secret is not needed)."""
    return ApiframeV2Provider(
        session,
        settings.apiframe_v2_base_url,
        settings.apiframe_v2_key,
        webhook_url=f"{settings.public_webhook_url}{WEBHOOK_PATH}" if webhook_secret else None,
    )


PLUGIN = ProviderPlugin(CAPABILITIES, create)
