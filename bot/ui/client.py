"""Encore's discord.py client: intents, mentions, command sync and the last-resort error reply.

It knows the service and the store only through their interfaces; `bot.app` builds the concrete ones.
"""

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
from bot.service import TaskService
from bot.store import Store
from bot.ui.events import DiscordTaskEvents

log = logging.getLogger("bot.app")

COMMANDS_HASH_KEY = "commands_hash"


def point_at_discord(settings: Settings) -> None:
    """Aim discord.py's REST and gateway at the configured endpoints (Discord itself, a proxy, or a test fake)."""
    discord.http.Route.BASE = settings.discord_api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class EncoreClient(commands.Bot):
    """The Discord client every cog and view talks to; its state lives in the store, never in memory."""

    store: Store
    service: TaskService
    events: DiscordTaskEvents

    def __init__(self, settings: Settings, *, intents: discord.Intents, http_trace: aiohttp.TraceConfig) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            http_trace=http_trace,
        )
        self.settings = settings
        point_at_discord(settings)

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
