"""`/encore settings`: a server's managers choose where results go, who may reroll, the showcase and the daily limit.
`/encore usage`: what the server asked for and what reached the provider, and the credits left where it tells.

Discord hides the group from members without Manage Server by default; the check is repeated here because a server
can override command permissions.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.pages import PageSettings
from bot.domain.records import GuildSettings
from bot.service.admin import Credits
from bot.service.pages import PagePublisher
from bot.ui import listing, render
from bot.ui.client import EncoreClient, manages_server

log = logging.getLogger(__name__)

NOT_A_MANAGER = "⚠️ Only members with the Manage Server permission can change Encore's settings."
NO_PUBLIC_URL = "⚠️ Song pages need the bot's operator to set `PUBLIC_URL` (the address of Encore's web server) first."
ON_OFF = [app_commands.Choice(name="on", value="on"), app_commands.Choice(name="off", value="off")]
NOT_A_MANAGER_USAGE = "⚠️ Only members with the Manage Server permission can see Encore's usage."
USAGE_DAYS = 7


def settings_embed(settings: GuildSettings, default_daily: int) -> discord.Embed:
    """Every setting with what it means right now; channels as mentions."""
    embed = discord.Embed(title="⚙️ Encore settings", colour=render.EMBED_COLOUR)
    results = f"<#{settings.results_channel_id}>" if settings.results_channel_id else "where the command was typed"
    embed.add_field(name="Results channel", value=results, inline=False)
    who = "anyone" if settings.reroll_anyone else "only the member who asked"
    embed.add_field(name="Who may reroll", value=who, inline=False)
    showcase = f"<#{settings.showcase_channel_id}>" if settings.showcase_channel_id else "off"
    embed.add_field(name="Showcase", value=f"{showcase} · at {settings.star_threshold} ⭐", inline=False)
    limit = settings.daily_limit if settings.daily_limit is not None else default_daily
    source = "set here" if settings.daily_limit is not None else "the bot's default"
    embed.add_field(name="Daily songs for the server", value=f"{limit or 'no limit'} ({source})", inline=False)
    whole = "posted after every extension, unasked" if settings.whole_song_auto else "when someone presses Whole song"
    embed.add_field(name="Whole songs", value=whole, inline=False)
    embed.set_footer(text="Change any of them with /encore settings and its options.")
    return embed


def pages_field(embed: discord.Embed, settings: PageSettings, pages: PagePublisher | None) -> None:
    """Song pages and the gallery, with the gallery's link while it is on."""
    if pages is None:
        embed.add_field(name="Song pages", value="unavailable (the operator has not set PUBLIC_URL)", inline=False)
        return
    state = "on: every result and whole song gets a web page" if settings.pages_on else "off"
    gallery = f"on: {pages.gallery_url(settings.gallery_id)}" if settings.gallery_id else "off"
    embed.add_field(name="Song pages", value=f"{state}\nGallery: {gallery}", inline=False)


class AdminCog(commands.Cog):
    """Server settings for managers."""

    encore = app_commands.Group(
        name="encore",
        description="Encore's server settings",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: EncoreClient) -> None:
        self.bot = bot

    @encore.command(name="settings", description="View or change Encore's settings for this server")
    @app_commands.describe(
        results_channel="Post every result in this channel instead of where the command was typed",
        results_here="True: post results where the command was typed again",
        reroll="Who may reroll a result",
        showcase_channel="Repost results that collect enough ⭐ here",
        showcase_off="True: stop reposting to the showcase",
        star_threshold="How many ⭐ a result needs for the showcase",
        daily_limit="Songs this server may request per day (0: no limit)",
        daily_default="True: use the bot's default daily limit again",
        whole_song_auto="True: post the whole song of every extension after its result; False: only when pressed",
        pages="on: every song posted from now on gets a page on the web (needs the operator's PUBLIC_URL)",
        gallery="on: a web gallery of the showcase and the month's top songs, at a link shown here",
    )
    @app_commands.choices(
        reroll=[
            app_commands.Choice(name="only the member who asked", value="requester"),
            app_commands.Choice(name="anyone", value="anyone"),
        ],
        pages=ON_OFF,
        gallery=ON_OFF,
    )
    async def settings(
        self,
        interaction: discord.Interaction[EncoreClient],
        results_channel: discord.TextChannel | None = None,
        results_here: bool = False,
        reroll: app_commands.Choice[str] | None = None,
        showcase_channel: discord.TextChannel | None = None,
        showcase_off: bool = False,
        star_threshold: app_commands.Range[int, 1, 1000] | None = None,
        daily_limit: app_commands.Range[int, 0, 100_000] | None = None,
        daily_default: bool = False,
        whole_song_auto: bool | None = None,
        pages: app_commands.Choice[str] | None = None,
        gallery: app_commands.Choice[str] | None = None,
    ) -> None:
        if not manages_server(interaction) or interaction.guild_id is None:
            await interaction.response.send_message(NOT_A_MANAGER, ephemeral=True)
            return
        if (pages or gallery) and self.bot.pages is None:
            await interaction.response.send_message(NO_PUBLIC_URL, ephemeral=True)
            return
        conflicts = [
            ("results_channel", "results_here", results_channel is not None and results_here),
            ("showcase_channel", "showcase_off", showcase_channel is not None and showcase_off),
            ("daily_limit", "daily_default", daily_limit is not None and daily_default),
        ]
        for first, second, clash in conflicts:
            if clash:
                await interaction.response.send_message(
                    f"⚠️ `{first}` and `{second}` contradict each other: give one of them.", ephemeral=True
                )
                return
        changes: dict[str, Any] = {}
        if results_channel is not None or results_here:
            changes["results_channel_id"] = results_channel.id if results_channel else None
        if reroll is not None:
            changes["reroll_anyone"] = reroll.value == "anyone"
        if showcase_channel is not None or showcase_off:
            changes["showcase_channel_id"] = showcase_channel.id if showcase_channel else None
        if star_threshold is not None:
            changes["star_threshold"] = star_threshold
        if daily_limit is not None or daily_default:
            changes["daily_limit"] = daily_limit
        if whole_song_auto is not None:
            changes["whole_song_auto"] = whole_song_auto
        # Answered first: saving is a write, and a busy database may take seconds (past Discord's 3).
        await interaction.response.defer(ephemeral=True, thinking=True)
        admin = self.bot.service.admin
        current = await admin.update_settings(interaction.guild_id, changes)
        page_settings = await self.bot.service.pages.change(
            interaction.guild_id,
            pages=None if pages is None else pages.value == "on",
            gallery=None if gallery is None else gallery.value == "on",
        )
        content = "✅ Saved." if changes or pages or gallery else None
        embed = settings_embed(current, admin.default_daily_limit)
        pages_field(embed, page_settings, self.bot.pages)
        await interaction.edit_original_response(content=content, embed=embed)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """A server that removed Encore: its pages and gallery stop answering."""
        await self.bot.service.pages.server_left(guild.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """A server that removed Encore while it was offline sent no event: Discord's list of Encore's servers (one
        entry each, even those in an outage) no longer has it, so its pages and gallery stop answering too."""
        present = {guild.id for guild in self.bot.guilds}
        for guild_id in await self.bot.service.pages.servers_gone(present, self.bot.carries_guild):
            log.info("server %s removed Encore while it was offline: its song pages are off", guild_id)

    @encore.command(name="usage", description="Songs asked, sent to Suno and failed, per member and per day")
    async def usage(self, interaction: discord.Interaction[EncoreClient]) -> None:
        if not manages_server(interaction) or interaction.guild_id is None:
            await interaction.response.send_message(NOT_A_MANAGER_USAGE, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.bot.service.admin.usage(interaction.guild_id, days=USAGE_DAYS, now=time.time())
        embed = listing.usage_embed(report.usage, report.days, credits_text(report.credits))
        await interaction.edit_original_response(embed=embed)


def credits_text(every: list[Credits]) -> str:
    """What each provider says is left, or why it says nothing; one line per provider when there are several."""
    if len(every) == 1:
        return provider_credits(every[0])
    return "\n".join(f"{credits.provider}: {provider_credits(credits)}" for credits in every)


def provider_credits(credits: Credits) -> str:
    if credits.error is not None:
        return f"unknown: {credits.provider} did not answer ({credits.error})"
    return f"{credits.left:,}" if credits.left is not None else f"{credits.provider} does not report credits"


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(AdminCog(bot))
