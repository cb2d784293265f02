"""sunoapi.co (and api.sunosay.com, same paths): its client, answers and capabilities, as one plug-in."""

from __future__ import annotations

import aiohttp

from bot.config import Settings
from bot.domain.pacing import PacerFactory
from bot.providers.base import Provider, per_second
from bot.providers.plugin import ProviderPlugin
from bot.providers.sunoapi.capabilities import CAPABILITIES
from bot.providers.sunoapi.client import SunoApiProvider, parse_clip, parse_task

__all__ = ["CAPABILITIES", "PLUGIN", "SunoApiProvider", "parse_clip", "parse_task"]


def create(
    settings: Settings, session: aiohttp.ClientSession, webhook_secret: str | None, pacers: PacerFactory
) -> Provider:
    """Paced to its documented limits: a submission every 4 s, two polls a second (both configurable)."""
    interval = settings.sunoapi_submit_interval
    return SunoApiProvider(
        session,
        settings.sunoapi_base_url,
        settings.sunoapi_key,
        submit_limiter=pacers("submit", 1, interval) if interval else None,
        poll_limiter=pacers("poll", *per_second(settings.sunoapi_polls_per_second)),
    )


PLUGIN = ProviderPlugin(CAPABILITIES, create)
