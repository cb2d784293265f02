"""Listeners on posted results: 🔁 rerolls the request behind a result message."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot import render
from bot.app import EncoreBot

log = logging.getLogger(__name__)


class ResultsCog(commands.Cog):
    """Reactions on result messages, looked up in SQLite so they work after a restart."""

    def __init__(self, bot: EncoreBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != render.REROLL_EMOJI or (self.bot.user and payload.user_id == self.bot.user.id):
            return
        accepted = await self.bot.service.reroll(payload.message_id, payload.user_id)
        if accepted is None:
            return
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        reference = discord.MessageReference(message_id=payload.message_id, channel_id=payload.channel_id)
        try:
            await channel.send(
                f"{render.REROLL_EMOJI} <@{payload.user_id}> rerolled task #{accepted.task.reroll_of}: "
                f"queued as task #{accepted.task.id}.",
                reference=reference,
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.info("could not confirm reroll of task %s: %s", accepted.task.reroll_of, error)


async def setup(bot: EncoreBot) -> None:
    await bot.add_cog(ResultsCog(bot))
