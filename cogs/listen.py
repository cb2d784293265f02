"""`/listen`: play a song in the member's voice channel, or queue it when Encore is already playing there."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.client import EncoreClient
from bot.ui.listing import song_choices
from bot.ui.voice import VoicePlayers


class ListenCog(commands.Cog):
    """The `/listen` command; the sessions themselves live in `VoicePlayers`."""

    def __init__(self, bot: EncoreClient, players: VoicePlayers) -> None:
        self.bot = bot
        self.players = players

    @app_commands.command(name="listen", description="Play a song in your voice channel, or queue it")
    @app_commands.guild_only()
    @app_commands.describe(song="A suno.com song link, a clip id, or one of your songs")
    async def listen(
        self, interaction: discord.Interaction[EncoreClient], song: app_commands.Range[str, 1, 200]
    ) -> None:
        await self.players.listen(interaction, song)

    @listen.autocomplete("song")
    async def song_autocomplete(
        self, interaction: discord.Interaction[EncoreClient], current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent songs, as `/extend` offers them."""
        return song_choices(await self.bot.store.recent_songs(interaction.user.id, current, limit=25))

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        await self.players.voice_state_changed(member, before, after)


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(ListenCog(bot, bot.voice_players))
