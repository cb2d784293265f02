"""What every command and button that queues a task says back: a clear ephemeral error, or the task and its place."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import discord
from discord import app_commands

from bot.domain.capabilities import ProviderCapabilities
from bot.domain.errors import Refusal
from bot.domain.models import Requester
from bot.service import Accepted
from bot.ui import render
from bot.ui.client import EncoreClient


def requester_of(interaction: discord.Interaction[EncoreClient]) -> Requester:
    """Who asked and where: the result goes to the channel the interaction came from."""
    return Requester(
        user_id=interaction.user.id,
        channel_id=interaction.channel_id or 0,
        guild_id=interaction.guild_id,
        upload_limit=interaction.filesize_limit,
    )


async def report_queued(interaction: discord.Interaction[EncoreClient], queued: Coroutine[Any, Any, Accepted]) -> None:
    """Await the service call and edit the deferred reply: the error, or the task and its place in the queue.

    The reply then keeps showing the task's progress until its result is posted. The work starts once the other
    interactions' answers have left, so that a burst of commands is acknowledged first.
    """
    try:
        await interaction.client.answers_in_flight.settled()
    except BaseException:  # cancelled while waiting (a shutdown): the call never started, and nothing was queued
        queued.close()
        raise
    try:
        accepted = await queued
    except Refusal as refusal:
        await interaction.edit_original_response(content=f"⚠️ {render.refusal_text(refusal)}")
        return
    interaction.client.task_messages.replies.track(accepted.task.id, interaction, accepted.note)
    text = render.accepted_text(accepted.task, accepted.position)
    await interaction.edit_original_response(content=f"{accepted.note}\n{text}" if accepted.note else text)


def model_choices(caps: ProviderCapabilities, current: str) -> list[app_commands.Choice[str]]:
    """The provider's models, newest first, that contain what the member typed so far."""
    typed = current.strip().upper()
    return [app_commands.Choice(name=model, value=model) for model in caps.choosable_models if typed in model][:25]
