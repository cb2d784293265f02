"""The discord.py bot: wires the store, the provider, the task service and delivery together in `setup_hook`."""

from __future__ import annotations

import hashlib
import json
import logging

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.delivery import Delivery
from bot.providers import create_provider
from bot.service import TaskService
from bot.store import Store
from bot.webhooks import WebhookServer, webhook_secret
from cogs.buttons import PERSISTENT_ITEMS, result_view

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.extend",
    "cogs.results",
    "cogs.generate",
    "cogs.library",
    "cogs.admin",
    "cogs.showcase",
)
COMMANDS_HASH_KEY = "commands_hash"


def point_at_discord(settings: Settings) -> None:
    """Aim discord.py's REST and gateway at the configured endpoints (Discord itself, a proxy, or a test fake)."""
    discord.http.Route.BASE = settings.discord_api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class EncoreBot(commands.Bot):
    """Encore's client. Its state lives in SQLite, so several processes could later share the work."""

    store: Store
    service: TaskService
    delivery: Delivery

    def __init__(self, settings: Settings, *, progress_interval: float = 10.0) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings = settings
        self.progress_interval = progress_interval
        self._session: aiohttp.ClientSession | None = None
        self.webhooks: WebhookServer | None = None
        point_at_discord(settings)

    async def setup_hook(self) -> None:
        self._session = aiohttp.ClientSession()
        self.store = await Store.open(self.settings.database_path)
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        self.delivery = Delivery(self, self._session, progress_interval=self.progress_interval, result_view=result_view)
        webhooks_on = bool(self.settings.public_webhook_url) and self.settings.provider == "apiframe"
        secret = await webhook_secret(self.store) if webhooks_on else None
        self.service = TaskService(
            self.store,
            create_provider(self.settings, self._session, webhook_secret=secret),
            self.delivery,
            poll_interval=self.settings.poll_interval,
            stall_timeout=self.settings.stall_timeout,
            quota=self.settings.quota,
            allowed_guild_ids=self.settings.allowed_guild_ids,
            webhook_poll_interval=self.settings.webhook_poll_interval if webhooks_on else None,
        )
        self.tree.error(self.on_app_command_error)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()
        if self.settings.public_webhook_url:
            self.webhooks = WebhookServer(
                self.service,
                secret=secret,
                gateway_connected=self.gateway_connected,
                host=self.settings.webhook_host,
                port=self.settings.webhook_port,
            )
            await self.webhooks.start()
        await self.service.start()
        log.info("Encore ready to take commands with provider %s", self.settings.provider)

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """A command failed in a way it did not handle: log why, and never leave the member on "thinking…"."""
        if isinstance(error, app_commands.CheckFailure):
            text = f"⚠️ {error}"
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed", name, exc_info=error)
            text = "⚠️ Something went wrong on Encore's side and nothing was queued or charged. Try again in a moment."
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=text)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as reply_error:
            log.warning("could not tell the member about the failure: %s", reply_error)

    def gateway_connected(self) -> bool:
        """Whether the Discord gateway session is up (for `/healthz`)."""
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    async def sync_commands(self) -> None:
        """Sync to the development guild when one is set (instant); else globally, only when the commands changed."""
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            log.info("commands synced to development guild %s", self.settings.dev_guild_id)
            return
        payload = json.dumps([command.to_dict(self.tree) for command in self.tree.get_commands()], sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        if await self.store.get_meta(COMMANDS_HASH_KEY) == digest:
            return
        await self.tree.sync()
        await self.store.set_meta(COMMANDS_HASH_KEY, digest)
        log.info("commands changed: synced globally")

    async def close(self) -> None:
        """Stop taking work, let deliveries in flight finish, then close Discord, HTTP and the database."""
        if self.webhooks:
            await self.webhooks.stop()
        if hasattr(self, "service"):
            await self.service.stop()
            self.delivery.replies.close()
        await super().close()
        if self._session:
            await self._session.close()
        if hasattr(self, "store"):
            await self.store.close()
