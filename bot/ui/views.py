"""Buttons on result messages that keep working after a restart.

Each is a `DynamicItem`: the task or clip id lives in the custom_id and the state in SQLite, so nothing is kept in
memory per message and the buttons of a message posted last month still answer.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.domain.records import SongRecord, TaskRecord
from bot.domain.validation import COMMAND_MAX_LENGTHS, ExtendOptions, as_clip_id
from bot.ui import render
from bot.ui.client import EncoreClient
from bot.ui.replies import report_queued, requester_of

MODAL_TEXT_LIMIT = 4000


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

    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.defer(ephemeral=True, thinking=True)
        await report_queued(
            interaction,
            interaction.client.service.reroll(self.task_id, interaction.user.id),
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

    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        await interaction.response.send_modal(ExtendModal(self.clip_id))


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:delete:(?P<task>[0-9]+)"
):
    """Remove the result message; allowed to its requester and to members who can manage messages."""

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

    async def callback(self, interaction: discord.Interaction[EncoreClient]) -> None:  # type: ignore[override]
        task = await interaction.client.store.get_task(self.task_id)
        allowed = task is not None and (
            interaction.user.id == task.requester_id or interaction.permissions.manage_messages
        )
        if not allowed or interaction.message is None:
            await interaction.response.send_message(
                "Only the member who asked for this song, or someone who can manage messages, can delete it.",
                ephemeral=True,
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await interaction.message.delete()
        except discord.HTTPException as error:
            await interaction.edit_original_response(content=f"⚠️ Discord would not delete it ({error.text}).")
            return
        await interaction.edit_original_response(content="🗑️ Deleted. The song stays in Encore's history.")


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

    def __init__(self, clip_id: str) -> None:
        super().__init__(custom_id=f"encore:extend-form:{clip_id}")
        self.clip_id = clip_id

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
        await report_queued(
            interaction,
            interaction.client.service.request_extend(requester_of(interaction), options),
        )


def add_extend_buttons(view: discord.ui.View, songs: list[SongRecord]) -> None:
    """One Extend button per clip, numbered when there are several; none for an id that is not a Suno clip id."""
    for index, song in enumerate(songs, start=1):
        if clip_id := as_clip_id(song.clip_id):
            view.add_item(ExtendButton(clip_id, label=f"Extend {index}" if len(songs) > 1 else "Extend"))


def extend_view(songs: list[SongRecord]) -> discord.ui.View:
    """Only the Extend buttons (the showcase repost): persistent, never held in memory."""
    view = discord.ui.View(timeout=None)
    add_extend_buttons(view, songs)
    return view


def result_view(task: TaskRecord, songs: list[SongRecord], first: bool = True) -> discord.ui.View:
    """Reroll, one Extend per clip, Delete (Reroll and Delete on a result's first message only): all persistent."""
    view = discord.ui.View(timeout=None)
    if first:
        view.add_item(RerollButton(task.id))
    add_extend_buttons(view, songs)
    if first:
        view.add_item(DeleteButton(task.id))
    return view


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]]], ...] = (
    RerollButton,
    ExtendButton,
    DeleteButton,
)
