"""🔁 on a posted result rerolls the request behind it."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.domain.errors import DuplicateRequest, Refusal, RerollRefused
from bot.ui import render
from bot.ui.client import EncoreClient

log = logging.getLogger(__name__)


class RerollCog(commands.Cog):
    """Reactions on result messages, looked up in the database so they work after a restart."""

    def __init__(self, bot: EncoreClient) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != render.REROLL_EMOJI or (self.bot.user and payload.user_id == self.bot.user.id):
            return
        original = await self.bot.service.library.task_by_message(payload.message_id)
        if original is None:
            return
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        try:
            accepted = await self.bot.service.intake.reroll(original.id, payload.user_id)
        except (RerollRefused, DuplicateRequest):
            return
        except Refusal as refusal:
            text = f"{render.REROLL_EMOJI} <@{payload.user_id}> {render.refusal_text(refusal)}"
        else:
            text = f"{render.REROLL_EMOJI} <@{payload.user_id}> rerolled task #{original.id}: task #{accepted.task.id}."
        reference = discord.MessageReference(message_id=payload.message_id, channel_id=payload.channel_id)
        try:
            await channel.send(
                text, reference=reference, mention_author=False, allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as error:
            log.info("could not answer a reroll reaction on task %s: %s", original.id, error)


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(RerollCog(bot))
