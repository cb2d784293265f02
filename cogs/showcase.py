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

from bot.service.community import PERIODS, ShowcaseDue
from bot.ui import listing
from bot.ui.client import EncoreClient
from bot.ui.views import extend_view

log = logging.getLogger(__name__)

STAR_EMOJI = "⭐"


class ShowcaseCog(commands.Cog):
    """Stars, the showcase repost and `/top`."""

    def __init__(self, bot: EncoreClient) -> None:
        self.bot = bot

    def _counted(self, payload: discord.RawReactionActionEvent) -> bool:
        """A ⭐ from a member in a server (not Encore's own, not another bot's)."""
        if str(payload.emoji) != STAR_EMOJI or payload.guild_id is None:
            return False
        return not ((self.bot.user and payload.user_id == self.bot.user.id) or (payload.member and payload.member.bot))

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if not self._counted(payload):
            return
        community = self.bot.service.community
        due = await community.star(payload.message_id, payload.user_id)
        if due is None:
            return
        try:
            message = await self._repost(due)
        except discord.HTTPException as error:
            log.warning(
                "task %s: could not repost it to the showcase (%s); a later star tries again", due.task.id, error
            )
            await community.showcase_failed(due.task.id)
            return
        await community.showcased(due.task.id, message.id)
        log.info("task %s showcased as message %s with %d stars", due.task.id, message.id, due.stars)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if self._counted(payload):
            await self.bot.service.community.unstar(payload.message_id, payload.user_id)

    async def _repost(self, due: ShowcaseDue) -> discord.Message:
        task = due.task
        channel = self.bot.get_partial_messageable(due.channel_id, guild_id=task.guild_id)
        return await channel.send(
            f"🌟 A community favourite from <#{task.channel_id}>",
            embed=listing.showcase_embed(task, due.songs[0], due.chain, due.stars),
            view=extend_view(due.songs),
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
        self, interaction: discord.Interaction[EncoreClient], period: app_commands.Choice[str] | None = None
    ) -> None:
        key = period.value if period else "week"
        rows = await self.bot.service.community.top(interaction.guild_id or 0, key, time.time(), listing.TOP_SIZE)
        await interaction.response.send_message(embed=listing.top_embed(PERIODS[key][0], rows))


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(ShowcaseCog(bot))
