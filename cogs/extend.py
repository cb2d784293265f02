"""`/extend`: parse the options, hand them to the task service, show where the task stands."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EncoreBot
from bot.validation import APIFRAME_MODELS, COMMAND_MAX_LENGTHS, ExtendOptions, format_seconds
from cogs.replies import report_queued, requester_of

Limits = COMMAND_MAX_LENGTHS


class ExtendCog(commands.Cog):
    """The `/extend` command and its song autocomplete."""

    def __init__(self, bot: EncoreBot) -> None:
        self.bot = bot

    @app_commands.command(name="extend", description="Continue a Suno song from a point in it")
    @app_commands.guild_only()
    @app_commands.describe(
        song="A suno.com song link, a clip id, or one of your songs",
        at="Where to continue: seconds (95) or m:ss (1:35); leave out to continue from the end",
        lyrics="Lyrics for the extension",
        prompt="What the extension should sound like (when not giving lyrics)",
        style="Style tags, e.g. 'dream pop, female vocals'",
        title="Title of the new song",
        task="apiframe only: the apiframe task id that made the song, for songs Encore has not posted",
        model="apiframe only: the Suno model",
    )
    @app_commands.choices(model=[app_commands.Choice(name=name, value=name) for name in APIFRAME_MODELS])
    async def extend(
        self,
        interaction: discord.Interaction[EncoreBot],
        song: app_commands.Range[str, 1, 200],
        at: app_commands.Range[str, 1, 16] | None = None,
        lyrics: app_commands.Range[str, 1, Limits.lyrics] | None = None,
        prompt: app_commands.Range[str, 1, Limits.prompt] | None = None,
        style: app_commands.Range[str, 1, Limits.style] | None = None,
        title: app_commands.Range[str, 1, Limits.title] | None = None,
        task: app_commands.Range[str, 1, 64] | None = None,
        model: app_commands.Choice[str] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        options = ExtendOptions(
            song=song,
            task=task,
            at=at,
            lyrics=lyrics,
            prompt=prompt,
            style=style,
            title=title,
            model=model.value if model else None,
        )
        await report_queued(
            interaction,
            self.bot.service.request_extend(requester_of(interaction), options),
            repeat="You sent this same extend a moment ago; it is already in the queue.",
        )

    @extend.autocomplete("song")
    async def song_autocomplete(
        self, interaction: discord.Interaction[EncoreBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent songs, from SQLite only: autocomplete cannot wait for the network."""
        songs = await self.bot.store.recent_songs(interaction.user.id, current, limit=25)
        choices = []
        for song in songs:
            length = f" ({format_seconds(song.duration)})" if song.duration else ""
            label = f"{song.title or 'Untitled'}{length} · {song.clip_id[:8]}"
            choices.append(app_commands.Choice(name=label[:100], value=song.clip_id))
        return choices


async def setup(bot: EncoreBot) -> None:
    await bot.add_cog(ExtendCog(bot))
