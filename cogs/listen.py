"""`/listen`: play songs in the member's voice channel, or queue them when Encore is already playing there.

One command with one source each time: `song` (as `/extend` takes it; with `whole:True` its chain's whole song),
`member` (their songs on the server, newest first), `top` (the most starred of a period, as `/top` ranks them) or
`radio` (the server's songs without end, newest or most starred first).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.service.community import PERIODS
from bot.service.listen import RADIO_ORDERS
from bot.ui.client import EncoreClient
from bot.ui.listing import song_choices
from bot.ui.voice import ListenRequest, VoicePlayers


class ListenCog(commands.Cog):
    """The `/listen` command; the sessions themselves live in `VoicePlayers`."""

    def __init__(self, bot: EncoreClient, players: VoicePlayers) -> None:
        self.bot = bot
        self.players = players

    @app_commands.command(name="listen", description="Play songs in your voice channel, or queue them")
    @app_commands.guild_only()
    @app_commands.describe(
        song="A suno.com song link, a clip id, or one of your songs",
        whole="With song: play the whole song its chain has become (once Encore has posted it)",
        member="Play this member's songs on this server, newest first",
        top="Play the server's most starred songs of a period, as /top ranks them",
        radio="Play the server's songs without end, newest or most starred first",
    )
    @app_commands.choices(
        top=[app_commands.Choice(name=label, value=key) for key, (label, _) in PERIODS.items()],
        radio=[app_commands.Choice(name=label, value=key) for key, label in RADIO_ORDERS.items()],
    )
    async def listen(
        self,
        interaction: discord.Interaction[EncoreClient],
        song: app_commands.Range[str, 1, 200] | None = None,
        whole: bool = False,
        member: discord.Member | None = None,
        top: app_commands.Choice[str] | None = None,
        radio: app_commands.Choice[str] | None = None,
    ) -> None:
        sources = (("song", song), ("member", member), ("top", top), ("radio", radio))
        if sum(value is not None for _, value in sources) != 1:
            await interaction.response.send_message(
                "⚠️ Give one of `song` (a song, or with `whole:True` its whole song), `member` (their songs), "
                "`top` (the most starred songs of a period) or `radio` (the server's songs, without end).",
                ephemeral=True,
            )
            return
        if whole and song is None:
            await interaction.response.send_message(
                "⚠️ `whole` goes with `song`: the song whose whole song to play.", ephemeral=True
            )
            return
        request = ListenRequest(
            song=song,
            whole=whole,
            member=member.id if member else None,
            top=top.value if top else None,
            radio=radio.value if radio else None,
        )
        await self.players.listen(interaction, request)

    @listen.autocomplete("song")
    async def song_autocomplete(
        self, interaction: discord.Interaction[EncoreClient], current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent songs, as `/extend` offers them."""
        return song_choices(await self.bot.service.library.recent_songs(interaction.user.id, current, limit=25))

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Take up the queues a restart interrupted (once: later `on_ready`s are reconnects)."""
        await self.players.resume_saved()

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        await self.players.voice_state_changed(member, before, after)


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(ListenCog(bot, bot.voice_players))
