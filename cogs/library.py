"""`/song`, `/songs` and `/queue`: browse what Encore made and what it is still making.

Paging and Cancel buttons are `DynamicItem`s whose custom_id carries all they need (member, page, task), so they
keep working after a restart and nothing is held in memory per message.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.validation import InputError, parse_song_ref
from bot.service.library import Library
from bot.ui import listing, render
from bot.ui.client import EncoreClient, answers_failures, manages_server
from bot.ui.views import result_view
from bot.ui.wholesong import WAVEFORM_NAME

log = logging.getLogger(__name__)

CANCEL_FAILED = "⚠️ Encore could not cancel task #{task} just now (its database is busy); nothing changed. Try again."

Button = discord.ui.Button[discord.ui.View]


class SongsPageButton(discord.ui.DynamicItem[Button], template=r"encore:songs:(?P<owner>[0-9]+):(?P<page>[0-9]+)"):
    """Turn a `/songs` list to another page."""

    def __init__(self, owner_id: int, page: int, *, label: str = "", disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or f"Page {page + 1}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"encore:songs:{owner_id}:{page}",
                disabled=disabled,
            )
        )
        self.owner_id = owner_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SongsPageButton:
        return cls(int(match["owner"]), int(match["page"]))

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        library = interaction.client.service.library
        embed, view = await songs_page(library, interaction.guild_id or 0, self.owner_id, self.page)
        await interaction.response.edit_message(embed=embed, view=view)


class CancelButton(discord.ui.DynamicItem[Button], template=r"encore:cancel:(?P<task>[0-9]+)"):
    """Cancel a task that has not been sent to the provider yet."""

    def __init__(self, task_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Cancel #{task_id}", style=discord.ButtonStyle.danger, custom_id=f"encore:cancel:{task_id}"
            )
        )
        self.task_id = task_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["task"]))

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        bot = interaction.client
        manager = manages_server(interaction)
        await interaction.response.defer()  # answered first: the cancel is a write, and the database may be busy
        try:
            outcome = await bot.service.community.cancel(
                self.task_id, interaction.user.id, interaction.guild_id, manages_server=manager
            )
        except Exception:  # a database locked past its timeout (or gone): say so, never leave the click unanswered
            log.exception("cancel of task %s failed", self.task_id)
            await interaction.followup.send(CANCEL_FAILED.format(task=self.task_id), ephemeral=True)
            return
        if not outcome.allowed:
            await interaction.followup.send(
                "⚠️ That task is not yours to cancel; only its requester or a server manager can.", ephemeral=True
            )
            return
        if outcome.cancelled is None:
            await interaction.followup.send(
                f"⚠️ Task #{self.task_id} was already sent to Suno (or has ended), so it can no longer be cancelled.",
                ephemeral=True,
            )
            return
        cancelled = outcome.cancelled
        await bot.task_messages.replies.update(cancelled.id, render.status_text(cancelled), final=True)
        embed, view = await queue_message(
            bot.service.library, interaction.guild_id or 0, interaction.user.id, whole_server=manager
        )
        await interaction.edit_original_response(
            content=f"✅ Cancelled task #{cancelled.id}; it was never sent, so it costs nothing.",
            embed=embed,
            view=view,
        )


async def songs_page(
    library: Library, guild_id: int, owner_id: int, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    """The embed and the paging buttons of one page of a member's songs."""
    found = await library.songs_page(guild_id, owner_id, page, listing.SONGS_PER_PAGE)
    view = discord.ui.View(timeout=None)
    if found.total > listing.SONGS_PER_PAGE:
        view.add_item(SongsPageButton(owner_id, max(0, found.page - 1), label="◀ Newer", disabled=found.page == 0))
        view.add_item(
            SongsPageButton(owner_id, found.page + 1, label="Older ▶", disabled=found.page >= found.last_page)
        )
    return listing.songs_page_embed(owner_id, found.songs, found.page, found.total), view


async def queue_message(
    library: Library, guild_id: int, user_id: int, *, whole_server: bool
) -> tuple[discord.Embed, discord.ui.View]:
    """The queue embed and one Cancel button per shown task that can still be cancelled."""
    queue = await library.queue(guild_id, None if whole_server else user_id, shown=listing.MAX_QUEUE_SHOWN)
    view = discord.ui.View(timeout=None)
    for task in queue.tasks[: listing.MAX_QUEUE_SHOWN]:
        if task.id in queue.positions and len(view.children) < 25:
            view.add_item(CancelButton(task.id))
    return listing.queue_embed(queue.tasks, queue.positions, whole_server=whole_server), view


class LibraryCog(commands.Cog):
    """Browsing songs and the queue."""

    def __init__(self, bot: EncoreClient) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SongsPageButton, CancelButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SongsPageButton, CancelButton)

    @app_commands.command(name="song", description="Show a song Encore made, its lineage and its buttons")
    @app_commands.guild_only()
    @app_commands.describe(song="A suno.com song link or clip id (from /songs)")
    async def song(self, interaction: discord.Interaction[EncoreClient], song: app_commands.Range[str, 1, 200]) -> None:
        try:
            clip_id = parse_song_ref(song)
        except InputError as error:
            await interaction.response.send_message(f"⚠️ {error}", ephemeral=True)
            return
        card = await self.bot.service.library.song_card(clip_id, interaction.guild_id)
        if card is None:
            await interaction.response.send_message(
                "⚠️ Encore has not made that song on this server. Find your songs and their ids with /songs.",
                ephemeral=True,
            )
            return
        task = card.task
        view = result_view(task, [card.song]) if task else discord.utils.MISSING
        embed = listing.song_embed(card.song, card.chain, task)
        files = []
        if whole := card.whole_song:
            files.append(discord.File(io.BytesIO(whole.waveform_png), filename=WAVEFORM_NAME))
            embed.set_image(url=f"attachment://{WAVEFORM_NAME}")
            link = listing.message_link(whole.record.guild_id, whole.record.channel_id or 0, whole.message_id)
            embed.add_field(name="Whole song", value=f"[Jump to it]({link})")
        await interaction.response.send_message(embed=embed, view=view, files=files)

    @app_commands.command(name="songs", description="List a member's songs, newest first, with their ids")
    @app_commands.guild_only()
    @app_commands.describe(user="Whose songs (you, if left out)")
    async def songs(self, interaction: discord.Interaction[EncoreClient], user: discord.User | None = None) -> None:
        owner = user or interaction.user
        embed, view = await songs_page(self.bot.service.library, interaction.guild_id or 0, owner.id, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @app_commands.command(name="queue", description="Your unfinished tasks (managers: the whole server's)")
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction[EncoreClient]) -> None:
        manager = manages_server(interaction)
        embed, view = await queue_message(
            self.bot.service.library, interaction.guild_id or 0, interaction.user.id, whole_server=manager
        )
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)


async def setup(bot: EncoreClient) -> None:
    await bot.add_cog(LibraryCog(bot))
