"""The sunoapi.org contract (sunoapi.org, and resellers such as kie.ai and api.box at their own base URLs): its
client, answers, per-task callbacks and capabilities, as one plug-in."""

from __future__ import annotations

import aiohttp

from bot.config import Settings
from bot.domain.pacing import PacerFactory
from bot.providers.base import Provider, per_second
from bot.providers.plugin import ProviderPlugin
from bot.providers.sunoapi_org.callbacks import CALLBACK_PREFIX, SunoApiOrgCallbacks, callback_path
from bot.providers.sunoapi_org.capabilities import CAPABILITIES, DEFAULT_MODEL, MODELS
from bot.providers.sunoapi_org.client import SunoApiOrgProvider, codes_for
from bot.providers.sunoapi_org.tasks import parse_callback, parse_record

__all__ = [
    "CALLBACK_PREFIX",
    "CAPABILITIES",
    "DEFAULT_MODEL",
    "MODELS",
    "PLUGIN",
    "SunoApiOrgCallbacks",
    "SunoApiOrgProvider",
    "callback_path",
    "codes_for",
    "parse_callback",
    "parse_record",
]


def create(
    settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None, pacers: PacerFactory
) -> Provider:
    """Paced to the documented limits (20 submissions per 10 s per key, configurable); with a secret, each task
    gets its own callback URL under PUBLIC_WEBHOOK_URL."""
    return SunoApiOrgProvider(
        session,
        settings.sunoapi_org_base_url,
        settings.sunoapi_org_key,
        submit_limiter=pacers("submit", *per_second(settings.sunoapi_org_submits_per_second)),
        poll_limiter=pacers("poll", *per_second(settings.sunoapi_org_polls_per_second)),
        public_url=settings.public_webhook_url,
        callback_secret=webhook_secret,
    )


PLUGIN = ProviderPlugin(CAPABILITIES, create)
