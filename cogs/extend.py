"""`/extend`: parse the options, hand them to the task service, show where the task stands.

With `audio:` (where the provider takes uploads) the member's own track is checked at once, and after the reply is
deferred the service measures it and hands its public Discord URL to the provider, which fetches it.
"""

from __future__ import annotations

import re
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.errors import Refusal
from bot.domain.validation import ExtendOptions
from bot.service import COMMAND_MAX_LENGTHS
from bot.ui import render
from bot.ui.client import EncoreClient
from bot.ui.listing import song_choices
from bot.ui.replies import model_choices, report_queued, requester_of

Limits = COMMAND_MAX_LENGTHS


class ExtendCog(commands.Cog):
    """The `/extend` command and its song autocomplete."""

    def __init__(self, bot: EncoreClient) -> None:
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
        model="The Suno model (this server's provider's, newest first); leave out for the song's own",
        audio="Your own track to extend instead of a song (audio file, at most 10 MB), if the provider takes one",
    )
    async def extend(
        self,
        interaction: discord.Interaction[EncoreClient],
        song: app_commands.Range[str, 1, 200] | None = None,
        at: app_commands.Range[str, 1, 16] | None = None,
        lyrics: app_commands.Range[str, 1, Limits.lyrics] | None = None,
        prompt: app_commands.Range[str, 1, Limits.prompt] | None = None,
        style: app_commands.Range[str, 1, Limits.style] | None = None,
        title: app_commands.Range[str, 1, Limits.title] | None = None,
        task: app_commands.Range[str, 1, 64] | None = None,
        model: app_commands.Range[str, 1, 32] | None = None,
        audio: discord.Attachment | None = None,
    ) -> None:
        if (song is None) == (audio is None):
            await interaction.response.send_message(
                "⚠️ Give exactly one of `song` (a Suno song link or id) and `audio` (your own track).", ephemeral=True
            )
            return
        options = ExtendOptions(
            song=song,
            task=task,
            at=at,
            lyrics=lyrics,
            prompt=prompt,
            style=style,
            title=title,
            model=model,
        )
        if audio is not None:
            await self._extend_upload(interaction, audio, options)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await report_queued(
            interaction,
            self.bot.service.intake.request_extend(requester_of(interaction), options),
        )

    async def _extend_upload(
        self, interaction: discord.Interaction[EncoreClient], audio: discord.Attachment, options: ExtendOptions
    ) -> None:
        """Refuse at once what cannot work; else defer, and let the service measure the track and upload it by URL."""
        try:
            self.bot.service.intake.check_upload(audio.filename, audio.content_type, audio.size)
        except Refusal as refusal:
            await interaction.response.send_message(f"⚠️ {render.refusal_text(refusal)}", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        filename = upload_filename(audio.filename)
        await report_queued(
            interaction,
            self.bot.service.intake.request_upload_extend(requester_of(interaction), options, audio.url, filename),
        )

    @extend.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[EncoreClient], current: str
    ) -> list[app_commands.Choice[str]]:
        # The models of the provider that will run it: the song's own when Encore made it.
        song = getattr(interaction.namespace, "song", None)
        return model_choices(
            await self.bot.service.intake.capabilities(song if isinstance(song, str) else None), current
        )

    @extend.autocomplete("song")
    async def song_autocomplete(
        self, interaction: discord.Interaction[EncoreClient], current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent songs, from the database only: autocomplete cannot wait for the network."""
        return song_choices(await self.bot.service.library.recent_songs(interaction.user.id, current, limit=25))


def upload_filename(name: str) -> str:
    """A name safe to show in a link and to write on disk: the title's letters and digits, the audio suffix."""
    suffix = Path(name).suffix.lower()
    return render.file_stem(Path(name).stem, "track") + (suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else "")


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(ExtendCog(bot))
