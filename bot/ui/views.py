"""Buttons on result messages that keep working after a restart.

Each is a `DynamicItem`: the task or clip id lives in the custom_id and the state in SQLite, so nothing is kept in
memory per message and the buttons of a message posted last month still answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.domain.records import SongRecord, TaskRecord
from bot.domain.validation import ExtendOptions, as_clip_id
from bot.providers import COMMAND_MAX_LENGTHS
from bot.service.wholesong import WholeSongFailed
from bot.ui import render
from bot.ui.client import EncoreClient, answer_failure, answers_failures
from bot.ui.replies import report_queued, requester_of
from bot.ui.voice import ListenButton, ListenWholeButton
from bot.ui.wholesong import outcome_text

MODAL_TEXT_LIMIT = 4000

log = logging.getLogger(__name__)


class RerollButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:reroll:(?P<task>[0-9]+)"
):
    """Submit the same request again, as a new task linked to this one."""

    def __init__(self, task_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Reroll",
                emoji=render.REROLL_EMOJI,
                style=discord.ButtonStyle.primary,
                custom_id=f"encore:reroll:{task_id}",
            )
        )
        self.task_id = task_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RerollButton:
        return cls(int(match["task"]))

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.defer(ephemeral=True, thinking=True)
        await report_queued(
            interaction,
            interaction.client.service.intake.reroll(self.task_id, interaction.user.id),
        )


class ExtendButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:extend:(?P<clip>[0-9a-f-]{36})"
):
    """Open a form to extend this clip further."""

    def __init__(self, clip_id: str, label: str = "Extend") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="➕", style=discord.ButtonStyle.secondary, custom_id=f"encore:extend:{clip_id}"
            )
        )
        self.clip_id = clip_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ExtendButton:
        return cls(match["clip"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.send_modal(ExtendModal(self.clip_id))


class WholeSongButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:whole:(?P<clip>[0-9a-f-]{36})"
):
    """Post the whole song ending with this clip (every part of its chain joined) as a reply, once for everyone."""

    def __init__(self, clip_id: str, label: str = "Whole song") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="🎼", style=discord.ButtonStyle.secondary, custom_id=f"encore:whole:{clip_id}"
            )
        )
        self.clip_id = clip_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> WholeSongButton:
        return cls(match["clip"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.defer(ephemeral=True, thinking=True)
        whole_songs = interaction.client.service.whole_songs
        outcome = (
            await whole_songs.request(
                self.clip_id,
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id or 0,
                reply_to=interaction.message.id if interaction.message else None,
                upload_limit=interaction.filesize_limit,
            )
            if whole_songs
            else WholeSongFailed("Whole songs are not available on this bot.")
        )
        await interaction.edit_original_response(content=outcome_text(outcome))


class WholeExtendButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:wextend:(?P<clip>[0-9a-f-]{36})"
):
    """Extend a whole song from a point on its own timeline; Encore finds the clip that plays there."""

    def __init__(self, clip_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Extend", emoji="➕", style=discord.ButtonStyle.secondary, custom_id=f"encore:wextend:{clip_id}"
            )
        )
        self.clip_id = clip_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> WholeExtendButton:
        return cls(match["clip"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.send_modal(ExtendModal(self.clip_id, whole_song=True))


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:delete:(?P<task>[0-9]+)"
):
    """Remove the result's post and its web pages; allowed to its requester and to members who can manage messages.

    The button is on the result post and on `/song` cards: either way it is the task's recorded result post that
    goes, never the message the button was pressed on. The pages go first, so a failure never leaves a page up
    behind a deleted post.
    """

    def __init__(self, task_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete", emoji="🗑️", style=discord.ButtonStyle.danger, custom_id=f"encore:delete:{task_id}"
            )
        )
        self.task_id = task_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteButton:
        return cls(int(match["task"]))

    @answers_failures
    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        task = await interaction.client.service.library.task(self.task_id)
        allowed = task is not None and (
            interaction.user.id == task.requester_id or interaction.permissions.manage_messages
        )
        if task is None or not allowed:
            await interaction.response.send_message(
                "Only the member who asked for this song, or someone who can manage messages, can delete it.",
                ephemeral=True,
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            taken_down = await interaction.client.service.pages.take_down(self.task_id)
        except Exception:
            log.warning("task %s: could not take its pages down", self.task_id, exc_info=True)
            await interaction.edit_original_response(
                content="⚠️ Encore could not take this song's web pages down just now, so nothing was deleted. "
                "Try again in a minute."
            )
            return
        pages = " Its web pages are taken down." if taken_down else ""
        if task.result_message_id is not None:
            post = interaction.client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
            try:
                await post.get_partial_message(task.result_message_id).delete()
            except discord.NotFound:
                pass  # deleted already: what the member asked for
            except discord.HTTPException as error:
                await interaction.edit_original_response(
                    content=f"⚠️ Discord would not delete the song's post ({error.text}).{pages}"
                )
                return
        await interaction.edit_original_response(content=f"🗑️ Deleted. The song stays in Encore's history.{pages}")


class ExtendModal(discord.ui.Modal, title="Extend this song"):
    """Where to continue and with what; the same checks as `/extend` apply when it is submitted."""

    at: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
        custom_id="at",
        label="Continue at (seconds or m:ss)",
        placeholder="1:05 (leave blank to continue from the end)",
        required=False,
        max_length=16,
    )
    lyrics: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
        custom_id="lyrics",
        label="Lyrics",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MODAL_TEXT_LIMIT,
    )
    prompt: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
        custom_id="prompt",
        label="Prompt (instead of lyrics)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=min(MODAL_TEXT_LIMIT, COMMAND_MAX_LENGTHS.prompt),
    )
    style: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
        custom_id="style", label="Style", required=False, max_length=min(MODAL_TEXT_LIMIT, COMMAND_MAX_LENGTHS.style)
    )
    song_title: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
        custom_id="title", label="Title", required=False, max_length=COMMAND_MAX_LENGTHS.title
    )

    def __init__(self, clip_id: str, *, whole_song: bool = False) -> None:
        super().__init__(
            title="Extend the whole song" if whole_song else "Extend this song",
            custom_id=f"encore:{'whole-' if whole_song else ''}extend-form:{clip_id}",
        )
        self.clip_id = clip_id
        self.whole_song = whole_song
        if whole_song:
            self.at.placeholder = "on the whole song, e.g. 3:20 (blank: from its end)"

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await answer_failure(interaction, error, f"form {self.custom_id!r}")

    async def on_submit(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.defer(ephemeral=True, thinking=True)
        options = ExtendOptions(
            song=self.clip_id,
            at=self.at.value,
            lyrics=self.lyrics.value,
            prompt=self.prompt.value,
            style=self.style.value,
            title=self.song_title.value,
        )
        service = interaction.client.service
        requester = requester_of(interaction)
        await report_queued(
            interaction,
            service.intake.request_whole_extend(requester, options)
            if self.whole_song
            else service.intake.request_extend(requester, options),
        )


def add_extend_buttons(view: discord.ui.View, songs: list[SongRecord]) -> None:
    """One Extend button per clip, numbered when there are several; none for an id that is not a Suno clip id."""
    for index, song in enumerate(songs, start=1):
        if clip_id := as_clip_id(song.clip_id):
            view.add_item(ExtendButton(clip_id, label=f"Extend {index}" if len(songs) > 1 else "Extend"))


def add_whole_song_buttons(view: discord.ui.View, songs: list[SongRecord]) -> None:
    """One Whole song button per extension (a new song is already whole), numbered when there are several."""
    extensions = [
        clip_id for song in songs if song.parent_clip_id is not None and (clip_id := as_clip_id(song.clip_id))
    ]
    for index, clip_id in enumerate(extensions, start=1):
        view.add_item(WholeSongButton(clip_id, label=f"Whole song {index}" if len(extensions) > 1 else "Whole song"))


def whole_song_view(clip_id: str) -> discord.ui.View:
    """The whole song's post: Extend, with `at` on the whole song's timeline, and Listen in a voice channel."""
    view = discord.ui.View(timeout=None)
    view.add_item(WholeExtendButton(clip_id))
    view.add_item(ListenWholeButton(clip_id))
    return view


def extend_view(songs: list[SongRecord]) -> discord.ui.View:
    """Only the Extend buttons (the showcase repost): persistent, never held in memory."""
    view = discord.ui.View(timeout=None)
    add_extend_buttons(view, songs)
    return view


def result_view(task: TaskRecord, songs: list[SongRecord], first: bool = True) -> discord.ui.View:
    """Reroll, one Extend and one Whole song per clip, Delete (Reroll and Delete on a result's first message only):
    all persistent."""
    view = discord.ui.View(timeout=None)
    if first:
        view.add_item(RerollButton(task.id))
    add_extend_buttons(view, songs)
    add_whole_song_buttons(view, songs)
    if first:
        view.add_item(DeleteButton(task.id))
    return view


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]]], ...] = (
    RerollButton,
    ExtendButton,
    WholeSongButton,
    WholeExtendButton,
    DeleteButton,
    ListenWholeButton,
    ListenButton,
)
