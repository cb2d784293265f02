"""Encore's discord.py client: intents, shards, mentions, command sync and the last-resort error reply.

It knows the service and the store only through their interfaces; `bot.app` builds the concrete ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.domain.pacing import Pacer, PacerFactory
from bot.providers import in_process_pacer
from bot.service import TaskService
from bot.service.pages import PagePublisher
from bot.store import Store
from bot.ui.answers import AnswersInFlight
from bot.ui.task_messages import TaskMessages

if TYPE_CHECKING:
    from bot.ui.voice import VoicePlayers

# Commands that queue paid work: their failure says that nothing was queued or charged (the others spend nothing).
SPENDING_COMMANDS = frozenset({"extend", "generate"})

log = logging.getLogger("bot.app")

BUTTON_FAILED = "⚠️ Something went wrong on Encore's side; try again in a moment."

# A button's responses that (will) edit the message it is on, rather than answer the member.
UPDATES_ITS_MESSAGE = frozenset(
    {discord.InteractionResponseType.deferred_message_update, discord.InteractionResponseType.message_update}
)

ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])
InteractionT = TypeVar("InteractionT", bound=discord.Interaction[Any])

COMMANDS_HASH_KEY = "commands_hash"
# Discord's IDENTIFY limit: one per `max_concurrency` bucket every 5 seconds, for all the bot's processes.
IDENTIFY_INTERVAL = 5.0


def encore_intents() -> discord.Intents:
    """Exactly what Encore uses: servers and their channels, reactions (🔁, ⭐, read raw), and voice states (who
    is in which voice channel, for `/listen`; discord.py needs it to connect to voice).

    Commands, buttons and forms arrive as interactions without any intent; asking for messages, typing,
    presences, members or DMs would only make Discord send events nobody reads.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_reactions = True
    intents.voice_states = True
    return intents


def point_at_discord(settings: Settings) -> None:
    """Aim discord.py's REST and gateway at the configured endpoints (Discord itself, a proxy, or a test fake)."""
    discord.http.Route.BASE = settings.discord_api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def manages_server(interaction: discord.Interaction[Any]) -> bool:
    """Whether the member has Manage Server: they see and manage the whole server's queue, settings and player."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


async def answer(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer an interaction in plain words, whether it was deferred ("thinking…" is replaced) or not (a button
    that updated its own message gets a follow-up); an answer Discord refuses is logged, so a caller reporting a
    failure cannot fail again."""
    kind = interaction.response.type
    try:
        if kind is None:
            await interaction.response.send_message(text, ephemeral=True)
        elif kind in UPDATES_ITS_MESSAGE:
            await interaction.followup.send(text, ephemeral=True)  # the original is the message the button is on
        else:
            await interaction.edit_original_response(content=text)
    except discord.HTTPException as reply_error:
        log.warning("could not answer the member: %s", reply_error)


async def answer_failure(interaction: discord.Interaction[Any], error: BaseException, what: str) -> None:
    """An unexpected failure of a button or form: logged with its traceback, and the member told in plain words."""
    log.error("%s failed", what, exc_info=error)
    await answer(interaction, BUTTON_FAILED)


def answers_failures(
    callback: Callable[[ItemT, InteractionT], Coroutine[Any, Any, None]],
) -> Callable[[ItemT, InteractionT], Coroutine[Any, Any, None]]:
    """For a persistent button's callback: an error it does not handle gets a plain answer, never "This interaction
    failed". discord.py only logs a `DynamicItem`'s error (a `View.on_error` never sees it)."""

    @functools.wraps(callback)
    async def guarded(item: ItemT, interaction: InteractionT) -> None:
        try:
            await callback(item, interaction)
        except Exception as error:
            await answer_failure(interaction, error, f"button {getattr(item, 'custom_id', item)!r}")

    return guarded


class EncoreClient(commands.AutoShardedBot):
    """The Discord client every cog and view talks to; its state lives in the store, never in memory.

    It runs the shards `SHARD_COUNT`/`SHARD_IDS` give it (one shard by default), pacing each IDENTIFY through
    `identify_pacer`, which processes sharing a database share.
    """

    store: Store
    service: TaskService
    task_messages: TaskMessages
    pages: PagePublisher | None = None  # song pages, with PUBLIC_URL set
    voice_players: VoicePlayers

    def __init__(self, settings: Settings, *, intents: discord.Intents, http_trace: aiohttp.TraceConfig) -> None:
        # Work that follows an interaction's answer lets the answers still on their way go first (`report_queued`).
        self.answers_in_flight = AnswersInFlight()
        self.answers_in_flight.observe(http_trace)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            http_trace=http_trace,
            shard_count=settings.shard_count,
        )
        self.shard_ids = list(settings.shard_ids) if settings.shard_ids else None
        self.settings = settings
        # Learnt from Discord at start (`GET /gateway/bot`); the pacers are shared when the database is.
        self.max_concurrency = 1
        self.identify_pacers: PacerFactory = in_process_pacer
        self._identify_buckets: dict[int, Pacer] = {}
        point_at_discord(settings)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for the IDENTIFY slot of the shard's bucket (`shard_id % max_concurrency`), whoever else waits."""
        bucket = (shard_id or 0) % self.max_concurrency
        if bucket not in self._identify_buckets:
            self._identify_buckets[bucket] = self.identify_pacers(f"identify:{bucket}", 1, IDENTIFY_INTERVAL)
        async with self._identify_buckets[bucket].slot():
            pass  # discord.py sends the IDENTIFY as soon as this returns

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """A command failed in a way it did not handle: log why, and never leave the member on "thinking…"."""
        if isinstance(error, app_commands.CheckFailure):
            text = f"⚠️ {error}"
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed", name, exc_info=error)
            text = (
                "⚠️ Something went wrong on Encore's side and nothing was queued or charged. Try again in a moment."
                if name in SPENDING_COMMANDS
                else "⚠️ Something went wrong on Encore's side. Try again in a moment."
            )
        await answer(interaction, text)

    def carries_guild(self, guild_id: int) -> bool:
        """Whether this process's shards carry `guild_id` (Discord's rule: `(guild_id >> 22) % shard_count`)."""
        if not self.settings.runs_gateway:  # a worker carries none
            return False
        if self.shard_ids is None or not self.shard_count:
            return True
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    def gateway_connected(self) -> bool:
        """Whether every shard's gateway session is up (for `/healthz`); a worker has none to lose."""
        if not self.settings.runs_gateway:
            return not self.is_closed()
        shards = self.shards.values()
        return self.is_ready() and not self.is_closed() and bool(shards) and not any(s.is_closed() for s in shards)

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
