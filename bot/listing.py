"""How Encore's lists look in Discord: a song and its lineage, a member's songs, the queue.

Every list is an embed with relative timestamps and mentions or links instead of raw ids; the one id shown is a
clip id, because members paste it into `/extend`.
"""

from __future__ import annotations

import math

import discord

from bot import render
from bot.models import TaskStatus
from bot.store import SongRecord, TaskRecord
from bot.validation import format_seconds

SONGS_PER_PAGE = 8
MAX_QUEUE_SHOWN = 20


def relative(timestamp: float) -> str:
    """A Discord relative timestamp (`3 minutes ago`), shown in each reader's own time zone."""
    return f"<t:{math.floor(timestamp)}:R>"


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def song_label(song: SongRecord) -> str:
    """`[Title](suno link)`, with markdown in the title escaped."""
    title = discord.utils.escape_markdown(render.shorten(song.title or "Untitled", 80))
    return f"[{title}]({render.suno_link(song.clip_id)})"


def song_embed(song: SongRecord, chain: list[SongRecord], task: TaskRecord | None) -> discord.Embed:
    """One song with its lineage (original → extension → …, with continue points) and where it was posted."""
    embed = discord.Embed(
        title=render.shorten(song.title or "Untitled", 256),
        url=render.suno_link(song.clip_id),
        colour=render.EMBED_COLOUR,
    )
    embed.description = "\n".join(lineage_lines(chain, song.clip_id))
    if song.duration:
        embed.add_field(name="Length", value=format_seconds(song.duration))
    if song.owner_id:
        embed.add_field(name="Made by", value=f"<@{song.owner_id}>")
    embed.add_field(name="Made", value=relative(song.created_at))
    if task and task.result_message_id:
        link = message_link(task.guild_id, task.channel_id, task.result_message_id)
        embed.add_field(name="Posted", value=f"[Jump to the result]({link})")
    if song.image_url:
        embed.set_thumbnail(url=song.image_url)
    embed.set_footer(text=f"Extend it with /extend song:{song.clip_id}")
    return embed


def lineage_lines(chain: list[SongRecord], current: str) -> list[str]:
    """One line per song of the chain, the original first; songs Encore did not make are named by link."""
    lines = []
    first = chain[0] if chain else None
    if first and first.parent_clip_id:
        outside = first.parent_clip_id
        lines.append(f"[{outside[:8]}]({render.suno_link(outside)}) · a Suno song Encore did not make")
    for song in chain:
        marker = "▶ " if song.clip_id == current else ""
        if song.parent_clip_id is None:
            how = "new song" if song.task_id else "original"
        else:
            at = f" from {format_seconds(song.continue_at)}" if song.continue_at is not None else ""
            how = f"extension{at}"
        by = f" by <@{song.owner_id}>" if song.owner_id else ""
        lines.append(f"{marker}{song_label(song)} · {how}{by}")
    return [f"{'→ ' if index else ''}{line}" for index, line in enumerate(lines)]


def songs_page_embed(owner_id: int, songs: list[SongRecord], page: int, total: int) -> discord.Embed:
    """A page of a member's songs, newest first, each with the id to give `/extend`."""
    pages = max(1, math.ceil(total / SONGS_PER_PAGE))
    embed = discord.Embed(title="🎵 Songs", colour=render.EMBED_COLOUR)
    if not songs:
        embed.description = f"<@{owner_id}> has no songs from Encore on this server yet. Make one with /generate."
        return embed
    lines = [f"Songs by <@{owner_id}> on this server ({total}):"]
    for song in songs:
        length = f" · {format_seconds(song.duration)}" if song.duration else ""
        extends = (
            f" · extends [{song.parent_clip_id[:8]}]({render.suno_link(song.parent_clip_id)})"
            if song.parent_clip_id
            else ""
        )
        lines.append(f"**{song_label(song)}**{length} · {relative(song.created_at)}{extends}\n`{song.clip_id}`")
    embed.description = "\n".join(lines)
    embed.set_footer(text=f"Page {page + 1} of {pages} · paste an id into /extend song: or /song")
    return embed


def queue_embed(tasks: list[TaskRecord], positions: dict[int, int], *, whole_server: bool) -> discord.Embed:
    """Unfinished tasks: what, whose (for admins), status with place in line or progress, and age."""
    embed = discord.Embed(title="⏳ Server queue" if whole_server else "⏳ Your queue", colour=render.EMBED_COLOUR)
    if not tasks:
        embed.description = "Nothing is waiting or in progress. Start something with /generate or /extend."
        return embed
    lines = []
    for task in tasks[:MAX_QUEUE_SHOWN]:
        whose = f" · <@{task.requester_id}>" if whole_server else ""
        lines.append(
            f"**#{task.id}** {render.describe_request(task.request)}{whose}\n"
            f"{queue_status(task, positions.get(task.id))} · asked {relative(task.created_at)}"
        )
    if len(tasks) > MAX_QUEUE_SHOWN:
        lines.append(f"… and {len(tasks) - MAX_QUEUE_SHOWN} more.")
    embed.description = "\n".join(lines)
    embed.set_footer(text="Tasks not yet sent to Suno can be cancelled; their credit is given back.")
    return embed


def queue_status(task: TaskRecord, position: int | None) -> str:
    if task.status is TaskStatus.QUEUED:
        if task.submit_started_at is not None:
            return "📨 being submitted"
        place = "next in line" if (position or 1) <= 1 else f"#{position} in line"
        return f"⏳ queued, {place}"
    if task.status is TaskStatus.SUBMITTED:
        return "📨 submitted, waiting for Suno to start"
    if task.status is TaskStatus.RUNNING:
        return f"🎛️ generating {task.progress}%" if task.progress is not None else "🎛️ generating"
    return "📦 finished, posting the result"


def cancellable(task: TaskRecord) -> bool:
    """Still queued and not being submitted: the only tasks a cancel can stop before they cost anything."""
    return task.status is TaskStatus.QUEUED and task.submit_started_at is None
