"""Provider plug-ins behind one interface, found through one registry and chosen by configuration.

Each provider is one package (`bot/providers/<name>/`: client, strict answer parsing, webhook or callback receiver,
capabilities) exporting a `PLUGIN`. `PLUGINS` below is the one place that names them: adding a provider is its
package and one line there. Everything else (validation, the web server, `python -m bot check`) reads what it
needs from here, and never names a provider.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from bot.config import Settings
from bot.domain.capabilities import ProviderCapabilities, TextLimits, ceiling
from bot.domain.pacing import Pacer, PacerFactory
from bot.providers import apiframe, apiframe_v2, suno_api, sunoapi, sunoapi_org
from bot.providers.apiframe import ApiframeProvider
from bot.providers.apiframe_v2 import ApiframeV2Provider
from bot.providers.base import Provider, RateLimiter
from bot.providers.errors import (
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnreachable,
)
from bot.providers.plugin import ProviderPlugin
from bot.providers.suno_api import SunoApiSelfHostedProvider
from bot.providers.sunoapi import SunoApiProvider
from bot.providers.sunoapi_org import SunoApiOrgProvider
from bot.providers.webhooks import WebhookRoute, WebhookUnauthorized

__all__ = [
    "CAPABILITIES",
    "COMMAND_MAX_LENGTHS",
    "MAX_UPLOAD_BYTES",
    "PLUGINS",
    "ApiframeProvider",
    "ApiframeV2Provider",
    "Provider",
    "ProviderAnswerMalformed",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderUnavailable",
    "ProviderUnreachable",
    "RateLimiter",
    "SunoApiOrgProvider",
    "SunoApiProvider",
    "SunoApiSelfHostedProvider",
    "WebhookRoute",
    "WebhookUnauthorized",
    "create_provider",
    "in_process_pacer",
]

# The one place that knows every provider, by the name SUNO_PROVIDER gives it.
PLUGINS: Mapping[str, ProviderPlugin] = {
    plugin.name: plugin
    for plugin in (sunoapi.PLUGIN, apiframe.PLUGIN, sunoapi_org.PLUGIN, apiframe_v2.PLUGIN, suno_api.PLUGIN)
}
CAPABILITIES: Mapping[str, ProviderCapabilities] = {name: plugin.capabilities for name, plugin in PLUGINS.items()}
# The longest text any provider's model takes: the ceiling of the command options' `max_length` (the chosen
# model's own limit is checked when the command arrives).
COMMAND_MAX_LENGTHS: TextLimits = ceiling(limit for caps in CAPABILITIES.values() for limit in caps.models.values())
# The largest upload any provider takes: what `/extend audio:` downloads at most.
MAX_UPLOAD_BYTES: int = max(caps.upload_max_bytes for caps in CAPABILITIES.values())


def in_process_pacer(operation: str, calls: int, period: float) -> Pacer:
    """Each process paces itself: right when it is the only one using the key."""
    return RateLimiter(calls, period)


def create_provider(
    settings: Settings,
    session: aiohttp.ClientSession,
    *,
    name: str | None = None,
    webhook_secret: str | None = None,
    pacers: PacerFactory = in_process_pacer,
) -> Provider:
    """The client of a configured provider (`name`; the first one when None); submissions ask for pushed updates
    when a secret is given.

    `pacers` builds the pacer of each rate-limited operation: in-process by default, shared when several
    processes use the key.
    """
    return PLUGINS[name or settings.provider].create(settings, session, webhook_secret, pacers)
