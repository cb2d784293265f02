"""A self-hosted gcui-art/suno-api (one Suno account behind it): its client, clip answers and capabilities."""

from __future__ import annotations

import aiohttp

from bot.config import Settings
from bot.domain.pacing import PacerFactory
from bot.providers.base import Provider
from bot.providers.plugin import ProviderPlugin
from bot.providers.suno_api.capabilities import CAPABILITIES, DEFAULT_MODEL, MODELS
from bot.providers.suno_api.client import SunoApiSelfHostedProvider
from bot.providers.suno_api.clips import clip_ids_of, fold, task_id_of

__all__ = [
    "CAPABILITIES",
    "DEFAULT_MODEL",
    "MODELS",
    "PLUGIN",
    "SunoApiSelfHostedProvider",
    "clip_ids_of",
    "fold",
    "task_id_of",
]


def create(
    settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None, pacers: PacerFactory
) -> Provider:
    """suno-api pushes nothing and documents no limits (the account's own apply): polled, unpaced."""
    return SunoApiSelfHostedProvider(session, settings.suno_api_base_url, settings.suno_api_key)


PLUGIN = ProviderPlugin(CAPABILITIES, create)
