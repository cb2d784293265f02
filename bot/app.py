"""The composition root: the one place that knows the concrete store, provider, service and Discord side."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import aiohttp
import asyncpg

from bot.config import Settings
from bot.domain.pacing import Pacer, PacerFactory
from bot.logs import redact_also
from bot.media import MediaFetcher
from bot.media.cache import AUDIO_CACHE_BYTES, AudioCache, unwritable_note
from bot.providers import PLUGINS, create_provider, in_process_pacer
from bot.service import TaskService
from bot.service.health import ProviderHealth
from bot.service.listen import SongAudio
from bot.service.pages import PagePublisher
from bot.service.result_media import ResultMedia
from bot.service.wholesong import WholeSongs
from bot.store import Store, StoreUnavailable
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.ui.client import EncoreClient, encore_intents
from bot.ui.task_messages import TaskMessages
from bot.ui.views import PERSISTENT_ITEMS, result_view, whole_song_view
from bot.ui.voice import VoicePlayers
from bot.ui.wholesong import WholeSongMessages
from bot.web.connections import connection_cap
from bot.web.metrics import PrometheusMetrics
from bot.web.pages import SongPages
from bot.web.server import WebServer, webhook_secret

log = logging.getLogger(__name__)

# Loaded by name, so the client imports no cog.
EXTENSIONS: tuple[str, ...] = (
    "cogs.extend",
    "cogs.reroll",
    "cogs.generate",
    "cogs.library",
    "cogs.admin",
    "cogs.showcase",
    "cogs.listen",
)
"""Encore's own copies of the clips it posted (for whole songs), beside the database; least recently used go first."""


async def open_store(settings: Settings) -> Store:
    """The configured store: PostgreSQL when `DATABASE_URL` is set (then no SQLite file is made), else the SQLite
    file, held by this process until closed. `StoreUnavailable` names the setting and why."""
    if settings.database_url:
        try:
            return await PostgresStore.open(settings.database_url)
        except StoreUnavailable as error:
            raise StoreUnavailable(f"DATABASE_URL: {error}") from None
        except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreUnavailable(f"DATABASE_URL: PostgreSQL cannot be used ({error})") from None
    try:
        return await SqliteStore.open(settings.database_path)
    except StoreUnavailable as error:
        raise StoreUnavailable(f"DATABASE_PATH={settings.database_path}: {error}") from None


async def checked_audio_cache(settings: Settings) -> AudioCache:
    """The audio cache, its folder checked at start: one that cannot be written is a warning, not a stop (every
    write is then logged and skipped; results are still posted)."""
    cache = AudioCache(settings.audio_cache_dir, AUDIO_CACHE_BYTES)
    if note := await asyncio.to_thread(unwritable_note, cache):
        log.warning("%s", note)
    return cache


def pacers_for(store: Store, service: str, secret: str) -> PacerFactory:
    """Pace the calls made with `secret` (an API key, the bot token) across every process on a shared database,
    else within this process. Only a hash of the secret is stored, to tell keys apart."""
    if not isinstance(store, PostgresStore):
        return in_process_pacer
    key_hash = hashlib.sha256(secret.encode()).hexdigest()[:16]
    shared = store

    def pacer(operation: str, calls: int, period: float) -> Pacer:
        return shared.pacer(f"{service}:{key_hash}:{operation}", calls, period)

    return pacer


class EncoreBot(EncoreClient):
    """Encore as configured: wires everything together in `setup_hook`, closes it in order in `close`.

    Given a `store`, it uses it and leaves closing it to the caller (`python -m bot` opens it before Discord, and
    keeps it across login retries); otherwise it opens its own.
    """

    def __init__(self, settings: Settings, *, store: Store | None = None, progress_interval: float = 10.0) -> None:
        self.metrics = PrometheusMetrics()
        super().__init__(settings, intents=encore_intents(), http_trace=self.metrics.discord_trace())
        self.progress_interval = progress_interval
        self._session: aiohttp.ClientSession | None = None
        self._given_store = store
        self.web_server: WebServer | None = None
        self.media: MediaFetcher | None = None
        self._closed = asyncio.Event()

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        """Log in and run the gateway's shards; a worker (`SHARD_IDS=none`) only logs in and works until closed."""
        if self.settings.runs_gateway:
            await super().start(token, reconnect=reconnect)
            return
        await self.login(token)
        await self._closed.wait()

    async def setup_hook(self) -> None:
        settings = self.settings
        traces = [self.metrics.provider_trace(name, settings.base_url_of(name)) for name in settings.providers]
        self._session = aiohttp.ClientSession(trace_configs=traces)
        self.store = self._given_store or await open_store(settings)
        self.media = MediaFetcher(settings.media_origins)
        audio_cache = await checked_audio_cache(settings)
        public_url = settings.public_url
        # Whole songs with a page, kept apart from the clips' cache so its traffic never pushes them out.
        page_audio = AudioCache(settings.audio_cache_dir / "pages", settings.page_audio_bytes)
        self.pages = PagePublisher(self.store, public_url, page_audio) if public_url else None
        self.task_messages = TaskMessages(
            self, progress_interval=self.progress_interval, result_view=result_view, pages=self.pages
        )
        whole_song_posts = WholeSongMessages(self, view=whole_song_view, pages=self.pages)
        whole_songs = WholeSongs(
            self.store,
            whole_song_posts,
            self.media,
            cdn_base_url=settings.suno_cdn_base_url,
            cache=audio_cache,
            metrics=self.metrics,
        )
        providers = []
        for name in settings.providers:
            # Each provider that pushes updates has its own secret (a provider sees its own: see `webhook_secret`).
            pushes = bool(settings.public_webhook_url) and PLUGINS[name].capabilities.webhooks
            secret = await webhook_secret(self.store, name) if pushes else None
            if secret:
                redact_also(secret)
            # Each provider paces its own key, across processes on a shared database.
            pacers = pacers_for(self.store, name, settings.key_of(name))
            providers.append(create_provider(settings, self._session, name=name, webhook_secret=secret, pacers=pacers))
        self.metrics.providers_configured(settings.providers)
        health = ProviderHealth(
            settings.providers,
            failures_before_cooldown=settings.provider_failures_before_cooldown,
            cooldown=settings.provider_cooldown,
            metrics=self.metrics,
        )
        shared = isinstance(self.store, PostgresStore)
        self.service = TaskService(
            self.store,
            providers,
            self.task_messages,
            poll_interval=settings.poll_interval,
            stall_timeout=settings.stall_timeout,
            quota=settings.quota,
            allowed_guild_ids=settings.allowed_guild_ids,
            # Only for the providers that push updates (they have webhook routes): the others are polled as usual.
            webhook_poll_interval=settings.webhook_poll_interval,
            whole_songs=whole_songs,
            media=ResultMedia(self.media, audio_cache=audio_cache),
            metrics=self.metrics,
            lease_seconds=settings.lease_seconds,
            # Other processes may leave work behind: look for it a few times per lease.
            rescan_interval=settings.lease_seconds / 4 if shared else None,
            health=health,
        )
        voice_audio = SongAudio(
            self.store,
            whole_songs,
            self.service.community,
            self.media,
            audio_cache,
            self.settings.voice,
            whole_song_url=whole_song_posts.whole_song_audio_url,
        )
        self.voice_players = VoicePlayers(self, voice_audio, self.settings.voice)
        if self.settings.runs_gateway:
            await self._serve_gateway()
        if (port := self.settings.web_server_port) is not None:
            self.web_server = WebServer(
                self.service,
                gateway_connected=self.gateway_connected,
                host=self.settings.webhook_host,
                port=port,
                metrics=self.metrics,
                pages=SongPages(
                    self.store,
                    public_url=public_url,
                    cache=audio_cache,
                    whole_songs=page_audio,
                    media=self.media,
                    trusted_proxies=self.settings.trusted_proxies,
                )
                if public_url
                else None,
                max_connections=connection_cap(self.settings.web_max_connections),
                request_timeout=self.settings.web_request_timeout,
            )
            await self.web_server.start()
        await self.service.start()
        if self.settings.runs_gateway:
            log.info("Encore ready to take commands with provider(s) %s", ", ".join(self.settings.providers))
        else:
            log.info(
                "Encore ready to work without a gateway (a worker) with provider(s) %s",
                ", ".join(self.settings.providers),
            )

    async def _serve_gateway(self) -> None:
        """What only a process with shards needs: commands, persistent buttons, paced IDENTIFYs."""
        self.identify_pacers = pacers_for(self.store, "discord", self.settings.discord_token)
        self.max_concurrency = (await self.fetch_session_start_limits()).max_concurrency
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        self.tree.error(self.on_app_command_error)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def close(self) -> None:
        """Stop taking work, let deliveries in flight finish, then close Discord, HTTP and the database."""
        if self.web_server:
            await self.web_server.stop()
        if hasattr(self, "voice_players"):
            await self.voice_players.close()
        if hasattr(self, "service"):
            await self.service.stop()
            self.task_messages.close()
        await super().close()
        if self._session:
            await self._session.close()
        if self.media:
            await self.media.close()
        if hasattr(self, "store") and self._given_store is None:
            await self.store.close()
        self._closed.set()
