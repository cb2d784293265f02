"""The community showcase: ⭐ on a result are counted in SQLite, enough of them repost it once; `/top` ranks them.

Stars come from raw reaction events and are looked up by message id in SQLite, so they count for any result, even
one posted before a restart (the message cache is empty then).
"""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot import listing
from bot.app import EncoreBot
from bot.store import DAY_SECONDS, TaskRecord
from cogs.buttons import ExtendButton

log = logging.getLogger(__name__)

STAR_EMOJI = "⭐"
# /top periods: (label, seconds back; None for all time).
PERIODS: dict[str, tuple[str, float | None]] = {
    "day": ("today", DAY_SECONDS),
    "week": ("this week", 7 * DAY_SECONDS),
    "month": ("this month", 30 * DAY_SECONDS),
    "all": ("all time", None),
}


class ShowcaseCog(commands.Cog):
    """Stars, the showcase repost and `/top`."""

    def __init__(self, bot: EncoreBot) -> None:
        self.bot = bot

    async def _starred_result(self, payload: discord.RawReactionActionEvent) -> TaskRecord | None:
        """The result a counted ⭐ is on; `None` for other emoji, messages and bots, or the requester's own star."""
        if str(payload.emoji) != STAR_EMOJI or payload.guild_id is None:
            return None
        if (self.bot.user and payload.user_id == self.bot.user.id) or (payload.member and payload.member.bot):
            return None
        task = await self.bot.store.task_by_message(payload.message_id)
        if task is None or task.requester_id == payload.user_id:
            return None
        return task

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if task := await self._starred_result(payload):
            stars = await self.bot.store.add_star(task.id, payload.user_id)
            await self._showcase_if_due(task, stars)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if task := await self._starred_result(payload):
            await self.bot.store.remove_star(task.id, payload.user_id)

    async def _showcase_if_due(self, task: TaskRecord, stars: int) -> None:
        """Repost the result once it has the server's threshold of stars; the store's claim makes it once only."""
        if task.showcased_at is not None or task.guild_id is None:
            return
        settings = await self.bot.store.guild_settings(task.guild_id)
        if settings.showcase_channel_id is None or stars < settings.star_threshold:
            return
        if not await self.bot.store.claim_showcase(task.id):
            return
        try:
            message = await self._repost(task, settings.showcase_channel_id, stars)
        except (discord.HTTPException, ValueError) as error:
            log.warning("task %s: could not repost it to the showcase (%s); a later star tries again", task.id, error)
            await self.bot.store.release_showcase(task.id)
            return
        await self.bot.store.record_showcase(task.id, message.id)
        log.info("task %s showcased as message %s with %d stars", task.id, message.id, stars)

    async def _repost(self, task: TaskRecord, channel_id: int, stars: int) -> discord.Message:
        songs = await self.bot.store.songs_of_task(task.id)
        if not songs:
            raise ValueError("the result has no songs")
        chain = await self.bot.store.song_chain(songs[0].clip_id)
        view = discord.ui.View(timeout=None)
        for index, song in enumerate(songs, start=1):
            view.add_item(ExtendButton(song.clip_id, label=f"Extend {index}" if len(songs) > 1 else "Extend"))
        channel = self.bot.get_partial_messageable(channel_id, guild_id=task.guild_id)
        return await channel.send(
            f"🌟 A community favourite from <#{task.channel_id}>",
            embed=listing.showcase_embed(task, songs[0], chain, stars),
            view=view,
            nonce=f"encore-star-{task.id}",
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="top", description="The server's most starred songs")
    @app_commands.guild_only()
    @app_commands.describe(period="Songs posted in this period (this week if left out)")
    @app_commands.choices(
        period=[app_commands.Choice(name=label, value=key) for key, (label, _) in PERIODS.items()],
    )
    async def top(
        self, interaction: discord.Interaction[EncoreBot], period: app_commands.Choice[str] | None = None
    ) -> None:
        label, seconds = PERIODS[period.value if period else "week"]
        since = time.time() - seconds if seconds else None
        ranked = await self.bot.store.top_starred(interaction.guild_id or 0, since, listing.TOP_SIZE)
        rows = []
        for task, stars in ranked:
            songs = await self.bot.store.songs_of_task(task.id)
            rows.append((task, stars, songs[0] if songs else None))
        await interaction.response.send_message(embed=listing.top_embed(label, rows))


async def setup(bot: EncoreBot) -> None:
    await bot.add_cog(ShowcaseCog(bot))
