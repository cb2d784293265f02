"""`/generate`: a new song from a prompt or lyrics, queued and delivered exactly like an extend."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.validation import GenerateOptions
from bot.service import COMMAND_MAX_LENGTHS
from bot.ui.client import EncoreClient
from bot.ui.replies import model_choices, report_queued, requester_of

Limits = COMMAND_MAX_LENGTHS


class GenerateCog(commands.Cog):
    """The `/generate` command."""

    def __init__(self, bot: EncoreClient) -> None:
        self.bot = bot

    @app_commands.command(name="generate", description="Make a new Suno song from a prompt or lyrics")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What the song should be about and sound like",
        lyrics="The words to sing (instead of, or with, a prompt)",
        style="Style tags, e.g. 'dream pop, female vocals'",
        title="Title of the song",
        instrumental="No vocals (where the provider offers it)",
        model="The Suno model (this server's provider's, newest first)",
    )
    async def generate(
        self,
        interaction: discord.Interaction[EncoreClient],
        prompt: app_commands.Range[str, 1, Limits.prompt] | None = None,
        lyrics: app_commands.Range[str, 1, Limits.lyrics] | None = None,
        style: app_commands.Range[str, 1, Limits.style] | None = None,
        title: app_commands.Range[str, 1, Limits.title] | None = None,
        instrumental: bool = False,
        model: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        options = GenerateOptions(
            prompt=prompt,
            lyrics=lyrics,
            style=style,
            title=title,
            instrumental=instrumental,
            model=model,
        )
        await report_queued(
            interaction,
            self.bot.service.intake.request_generate(requester_of(interaction), options),
        )

    @generate.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[EncoreClient], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(await self.bot.service.intake.capabilities(), current)


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(GenerateCog(bot))
