"""How Encore's lists look in Discord: a song and its lineage, a member's songs, the queue.

Every list is an embed with relative timestamps and mentions or links instead of raw ids; the one id shown is a
clip id, because members paste it into `/extend`.
"""

from __future__ import annotations

import datetime
import math

import discord
from discord import app_commands

from bot.domain.records import SongRecord, TaskRecord, Usage, UsageCounts
from bot.domain.validation import format_seconds
from bot.media import is_safe_embed_url
from bot.ui import render

SONGS_PER_PAGE = 8
MAX_QUEUE_SHOWN = 20
TOP_SIZE = 10
MAX_USAGE_MEMBERS = 15
RANK_MARKS = ("🥇", "🥈", "🥉")
# A lineage shows its first and last songs; each line is at most ~200 characters, so 12 fit 4,096 with room.
LINEAGE_HEAD = 2
LINEAGE_TAIL = 8


def relative(timestamp: float) -> str:
    """A Discord relative timestamp (`3 minutes ago`), shown in each reader's own time zone."""
    return f"<t:{math.floor(timestamp)}:R>"


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def song_label(song: SongRecord) -> str:
    """`[Title](suno link)`, with markdown in the title escaped."""
    return linked_title(song.title, render.suno_link(song.clip_id))


def linked_title(title: str | None, url: str) -> str:
    """`[Title](url)`, shortened, with markdown in the title escaped so it cannot break the link."""
    return render.markdown_link(render.shorten(title or "Untitled", 80), url)


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
    if is_safe_embed_url(song.image_url):
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
        if song.parent_clip_id is None and song.continue_at is not None:
            how = f"extension of an uploaded track from {format_seconds(song.continue_at)}"
        elif song.parent_clip_id is None:
            how = "new song" if song.task_id else "original"
        else:
            at = f" from {format_seconds(song.continue_at)}" if song.continue_at is not None else ""
            how = f"extension{at}"
        by = f" by <@{song.owner_id}>" if song.owner_id else ""
        lines.append(f"{marker}{song_label(song)} · {how}{by}")
    arrowed = [f"{'→ ' if index else ''}{line}" for index, line in enumerate(lines)]
    return fold_chain(arrowed)


def fold_chain(lines: list[str]) -> list[str]:
    """A long lineage as its first songs, a count of the middle, and its last songs: it must fit an embed."""
    if len(lines) > LINEAGE_HEAD + LINEAGE_TAIL + 1:
        hidden = len(lines) - LINEAGE_HEAD - LINEAGE_TAIL
        lines = [*lines[:LINEAGE_HEAD], f"→ … {hidden} more extensions …", *lines[-LINEAGE_TAIL:]]
    return lines


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
            f"{render.status_phrase(task, positions.get(task.id))} · asked {relative(task.created_at)}"
        )
    if len(tasks) > MAX_QUEUE_SHOWN:
        lines.append(f"… and {len(tasks) - MAX_QUEUE_SHOWN} more.")
    embed.description = "\n".join(lines)
    embed.set_footer(text="Tasks not yet sent to Suno can be cancelled; their credit is given back.")
    return embed


def chain_credits(chain: list[SongRecord], requester_id: int) -> list[int]:
    """Everyone who asked for a song of the lineage, the original's maker first, each once."""
    makers = [song.owner_id for song in chain if song.owner_id] + [requester_id]
    return list(dict.fromkeys(makers))


def mentions(user_ids: list[int], limit: int = 1024) -> str:
    """Members as mentions, as many as fit an embed field, then how many more."""
    shown: list[str] = []
    for index, user_id in enumerate(user_ids):
        more = f" and {len(user_ids) - index} more"
        if len(" ".join([*shown, f"<@{user_id}>"])) + len(more) > limit:
            return " ".join(shown) + more
        shown.append(f"<@{user_id}>")
    return " ".join(shown)


def showcase_embed(task: TaskRecord, song: SongRecord, chain: list[SongRecord], stars: int) -> discord.Embed:
    """A starred result reposted for the server: the song, its lineage, credit to its whole chain, the original post."""
    embed = discord.Embed(
        title=render.shorten(song.title or "Untitled", 256),
        url=render.suno_link(song.clip_id),
        colour=render.EMBED_COLOUR,
    )
    embed.description = "\n".join(lineage_lines(chain, song.clip_id))
    embed.add_field(name="Made by", value=mentions(chain_credits(chain, task.requester_id)), inline=False)
    embed.add_field(name="Stars", value=f"⭐ {stars}")
    if task.result_message_id:
        link = message_link(task.guild_id, task.channel_id, task.result_message_id)
        embed.add_field(name="Original post", value=f"[Jump to it]({link})")
    if is_safe_embed_url(song.image_url):
        embed.set_image(url=song.image_url)
    embed.set_footer(text=f"Extend it with /extend song:{song.clip_id}")
    return embed


def top_embed(period: str, ranked: list[tuple[TaskRecord, int, SongRecord | None]]) -> discord.Embed:
    """The most starred results: rank, title linked to the result message, maker, stars, when it was posted."""
    embed = discord.Embed(title=f"🏆 Most starred songs · {period}", colour=render.EMBED_COLOUR)
    if not ranked:
        embed.description = "No song has a ⭐ yet in this period. React ⭐ to a result you like!"
        return embed
    lines = []
    for rank, (task, stars, song) in enumerate(ranked, start=1):
        mark = RANK_MARKS[rank - 1] if rank <= len(RANK_MARKS) else f"**{rank}.**"
        link = message_link(task.guild_id, task.channel_id, task.result_message_id or 0)
        posted = relative(task.finished_at or task.created_at)
        lines.append(f"{mark} {linked_title(song.title if song else None, link)} by <@{task.requester_id}>")
        lines.append(f"⭐ {stars} · posted {posted}")
    embed.description = "\n".join(lines)
    embed.set_footer(text="React ⭐ to a result to vote for it.")
    return embed


def counts_text(counts: UsageCounts) -> str:
    return f"{counts.tasks} asked · {counts.submitted} sent to Suno · {counts.failed} failed"


def usage_embed(usage: Usage, days: list[str], credits: str) -> discord.Embed:
    """A server's last days: totals, per member (mentions), per day (dates in each reader's time zone), credits."""
    embed = discord.Embed(title=f"📊 Encore usage · last {len(days)} days", colour=render.EMBED_COLOUR)
    everyone = usage.by_member.values()
    total = UsageCounts(
        sum(c.tasks for c in everyone), sum(c.submitted for c in everyone), sum(c.failed for c in everyone)
    )
    embed.description = f"**Total:** {counts_text(total)}"
    members = [f"<@{user_id}> · {counts_text(counts)}" for user_id, counts in usage.by_member.items()]
    if len(members) > MAX_USAGE_MEMBERS:
        members = [*members[:MAX_USAGE_MEMBERS], f"… and {len(members) - MAX_USAGE_MEMBERS} more members"]
    embed.add_field(name="Per member", value="\n".join(members) or "Nobody asked for a song.", inline=False)
    nothing = UsageCounts(0, 0, 0)
    per_day = [f"<t:{_noon_utc(day)}:d> · {counts_text(usage.by_day.get(day, nothing))}" for day in days]
    embed.add_field(name="Per day", value="\n".join(per_day), inline=False)
    embed.add_field(name="Credits left", value=credits, inline=False)
    embed.set_footer(text="Only tasks sent to Suno cost credits; cancelled and refused ones do not.")
    return embed


def _noon_utc(day: str) -> int:
    """Noon UTC of a `YYYY-MM-DD` day: shown as a date, it is that same day in every time zone from -11 to +11."""
    moment = datetime.datetime.strptime(day, "%Y-%m-%d").replace(hour=12, tzinfo=datetime.UTC)
    return int(moment.timestamp())


def song_choices(songs: list[SongRecord]) -> list[app_commands.Choice[str]]:
    """A `song` option's autocomplete: the member's songs as "Title (1:35) · 3f2a1c9b", valued by clip id."""
    choices = []
    for song in songs:
        length = f" ({format_seconds(song.duration)})" if song.duration else ""
        label = f"{song.title or 'Untitled'}{length} · {song.clip_id[:8]}"
        choices.append(app_commands.Choice(name=label[:100], value=song.clip_id))
    return choices
