"""What every command and button that queues a task says back: a clear ephemeral error, or the task and its place."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import discord

from bot import render
from bot.models import Requester
from bot.service import Accepted
from bot.validation import InputError

if TYPE_CHECKING:
    from bot.app import EncoreBot


def requester_of(interaction: discord.Interaction[EncoreBot]) -> Requester:
    """Who asked and where: the result goes to the channel the interaction came from."""
    return Requester(
        user_id=interaction.user.id,
        channel_id=interaction.channel_id or 0,
        guild_id=interaction.guild_id,
        upload_limit=interaction.filesize_limit,
    )


async def report_queued(interaction: discord.Interaction[EncoreBot], queued: Awaitable[Accepted]) -> None:
    """Await the service call and edit the deferred reply: the error, or the task and its place in the queue.

    The reply then keeps showing the task's progress until its result is posted.
    """
    try:
        accepted = await queued
    except InputError as error:
        await interaction.edit_original_response(content=f"⚠️ {error}")
        return
    interaction.client.delivery.replies.track(accepted.task.id, interaction)
    await interaction.edit_original_response(content=render.accepted_text(accepted.task, accepted.position))
