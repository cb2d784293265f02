"""The composition root: the one place that knows the concrete store, provider, service and Discord side."""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.config import Settings
from bot.logs import redact_also
from bot.media import MediaFetcher
from bot.media.cache import AudioCache
from bot.providers import create_provider
from bot.service import TaskService
from bot.service.wholesong import WholeSongs
from bot.store import Store, StoreUnavailable
from bot.store.sqlite import SqliteStore
from bot.ui.client import EncoreClient
from bot.ui.events import DiscordTaskEvents
from bot.ui.views import PERSISTENT_ITEMS, result_view, whole_song_view
from bot.ui.wholesong import DiscordWholeSongs
from bot.web.metrics import PrometheusMetrics
from bot.web.server import WebhookServer, webhook_secret

log = logging.getLogger(__name__)

# Loaded by name, so the client imports no cog.
EXTENSIONS: tuple[str, ...] = (
    "cogs.extend",
    "cogs.reroll",
    "cogs.generate",
    "cogs.library",
    "cogs.admin",
    "cogs.showcase",
)
AUDIO_CACHE_BYTES = 512 * 1024 * 1024
"""Encore's own copies of the clips it posted (for whole songs), beside the database; least recently used go first."""


async def open_store(settings: Settings) -> Store:
    """The configured store, held by this process until closed; `StoreUnavailable` names the setting and why."""
    try:
        return await SqliteStore.open(settings.database_path)
    except StoreUnavailable as error:
        raise StoreUnavailable(f"DATABASE_PATH={settings.database_path}: {error}") from None


class EncoreBot(EncoreClient):
    """Encore as configured: wires everything together in `setup_hook`, closes it in order in `close`.

    Given a `store`, it uses it and leaves closing it to the caller (`python -m bot` opens it before Discord, and
    keeps it across login retries); otherwise it opens its own.
    """

    def __init__(self, settings: Settings, *, store: Store | None = None, progress_interval: float = 10.0) -> None:
        self.metrics = PrometheusMetrics()
        super().__init__(settings, intents=discord.Intents.default(), http_trace=self.metrics.discord_trace())
        self.progress_interval = progress_interval
        self._session: aiohttp.ClientSession | None = None
        self._given_store = store
        self.webhooks: WebhookServer | None = None
        self.media: MediaFetcher | None = None

    async def setup_hook(self) -> None:
        trace = self.metrics.provider_trace(self.settings.provider, self.settings.provider_base_url)
        self._session = aiohttp.ClientSession(trace_configs=[trace])
        self.store = self._given_store or await open_store(self.settings)
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        self.media = MediaFetcher(self.settings.media_origins)
        audio_cache = AudioCache(self.settings.database_path.parent / "audio-cache", AUDIO_CACHE_BYTES)
        self.events = DiscordTaskEvents(
            self,
            self.media,
            progress_interval=self.progress_interval,
            result_view=result_view,
            audio_cache=audio_cache,
        )
        provider = create_provider(self.settings, self._session)
        whole_songs = WholeSongs(
            self.store,
            DiscordWholeSongs(self, view=whole_song_view),
            self.media,
            cdn_base_url=self.settings.suno_cdn_base_url,
            cache=audio_cache,
        )
        webhooks_on = bool(self.settings.public_webhook_url) and provider.capabilities.webhooks
        secret = await webhook_secret(self.store) if webhooks_on else None
        if secret:
            redact_also(secret)
        if secret:
            provider = create_provider(self.settings, self._session, webhook_secret=secret)
        self.service = TaskService(
            self.store,
            provider,
            self.events,
            poll_interval=self.settings.poll_interval,
            stall_timeout=self.settings.stall_timeout,
            quota=self.settings.quota,
            allowed_guild_ids=self.settings.allowed_guild_ids,
            webhook_poll_interval=self.settings.webhook_poll_interval if webhooks_on else None,
            whole_songs=whole_songs,
            metrics=self.metrics,
        )
        self.tree.error(self.on_app_command_error)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()
        if (port := self.settings.web_server_port) is not None:
            self.webhooks = WebhookServer(
                self.service,
                secret=secret,
                gateway_connected=self.gateway_connected,
                host=self.settings.webhook_host,
                port=port,
                metrics=self.metrics,
            )
            await self.webhooks.start()
        await self.service.start()
        log.info("Encore ready to take commands with provider %s", self.settings.provider)

    async def close(self) -> None:
        """Stop taking work, let deliveries in flight finish, then close Discord, HTTP and the database."""
        if self.webhooks:
            await self.webhooks.stop()
        if hasattr(self, "service"):
            await self.service.stop()
            self.events.close()
        await super().close()
        if self._session:
            await self._session.close()
        if self.media:
            await self.media.close()
        if hasattr(self, "store") and self._given_store is None:
            await self.store.close()
