"""How tasks and songs look in Discord: status lines, result embeds, failure notices."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import quote

import discord

from bot.domain.errors import QuotaRefused, Refusal
from bot.domain.models import GenerateRequest, TaskRequest, TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.domain.validation import as_clip_id, format_seconds

EMBED_COLOUR = discord.Colour.from_rgb(233, 84, 32)
REROLL_EMOJI = "🔁"


# Provider texts are shortened at parse time too; these bounds keep every message within Discord's limits anyway.
REASON_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AudioNote:
    """A clip whose audio is not attached: a link to it, or why there is none."""

    link: str | None = None
    problem: str | None = None


def link_text(text: str) -> str:
    """Text for inside `[…]`: markdown escaped, and brackets too, so a title cannot become a link of its own."""
    escaped = discord.utils.escape_markdown(text)
    return escaped.replace("[", "\\[").replace("]", "\\]").replace("(", "\\(").replace(")", "\\)")


def link_url(url: str) -> str:
    """A URL for inside `(…)`: the characters that could end the link or start another are percent-encoded."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


def markdown_link(text: str, url: str) -> str:
    return f"[{link_text(text)}]({link_url(url)})"


def suno_link(clip_id: str) -> str:
    return f"https://suno.com/song/{quote(clip_id, safe='-')}"


def describe_request(request: TaskRequest) -> str:
    """`[3f2a1c9b](link) from 1:05`, `the upload [name](url) from 1:05` or `a new song “Title”`, in one phrase."""
    if isinstance(request, GenerateRequest):
        title = link_text(shorten(request.title, 60)) if request.title else None
        return f"a new song “{title}”" if title else "a new song"
    if request.clip_id is None:
        name = shorten(request.upload_name or "a track", 60)
        upload = markdown_link(name, request.upload_url) if request.upload_url else link_text(name)
        return f"the upload {upload} from {format_seconds(request.continue_at)}"
    return f"[{request.clip_id[:8]}]({suno_link(request.clip_id)}) from {format_seconds(request.continue_at)}"


def _place(position: int) -> str:
    return "next in line" if position <= 1 else f"#{position} in line"


def accepted_text(task: TaskRecord, position: int) -> str:
    place = _place(position)
    verb = "Making" if isinstance(task.request, GenerateRequest) else "Extending"
    return (
        f"🎵 {verb} {describe_request(task.request)} — task #{task.id}, {place}.\n"
        f"The result will be posted in <#{task.channel_id}>; this message shows its progress."
    )


def status_text(task: TaskRecord, position: int | None = None) -> str:
    """The requester's progress message; `position` is its place in the submission queue. While the task runs,
    the audio the provider already streams is linked below (the `/queue` list shows only the phrase)."""
    links = preview_links(task.previews) if task.status is TaskStatus.RUNNING else ""
    return f"Task #{task.id} ({describe_request(task.request)}): {status_phrase(task, position)}{links}"


def status_phrase(task: TaskRecord, position: int | None = None) -> str:
    """Where a task stands, in a few words: the progress reply and the `/queue` list both say it this way."""
    if task.status is TaskStatus.QUEUED:
        if task.submit_started_at is not None:
            return "📨 being submitted"
        place = f"⏳ queued, {_place(position)}" if position else "⏳ queued"
        retrying = task.provider_status or ""
        return f"{place}, {retrying}" if retrying.startswith("retrying") else place
    if task.status is TaskStatus.SUBMITTED:
        return "📨 submitted, waiting for Suno to start"
    if task.status is TaskStatus.RUNNING:
        progress = f" {progress_bar(task.progress)}" if task.progress is not None else ""
        return f"🎛️ generating{progress}"
    if task.status is TaskStatus.SUCCEEDED:
        return "📦 finished, posting the result"
    if task.status is TaskStatus.DELIVERED:
        return "✅ posted in the channel"
    return f"❌ {shorten(task.error or 'failed', REASON_LIMIT)}"


def progress_bar(percent: int, width: int = 10) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 30%`: a cell fills only once its whole tenth is done, so a full bar means finished."""
    filled = max(0, min(width, percent * width // 100))
    return f"{'▰' * filled}{'▱' * (width - filled)} {percent}%"


def preview_links(previews: dict[str, str]) -> str:
    """A line of links to the audio the provider streams while it makes the clips, or nothing before any appears.

    Only http(s) links reach the store, and each is encoded so it cannot break out of its markdown link.
    """
    if not previews:
        return ""
    links = [markdown_link(f"clip {index}", url) for index, url in enumerate(previews.values(), start=1)]
    return "\n🎧 Listen while it is made: " + " · ".join(links)


def posted_text(task: TaskRecord, jump_url: str) -> str:
    """The requester's progress message once the result is in the channel."""
    return f"Task #{task.id} ({describe_request(task.request)}): ✅ posted in the channel: {jump_url}"


def undeliverable_notice(task: TaskRecord, songs: list[SongRecord]) -> str:
    """A direct message with the songs' links when the channel cannot take the result."""
    links = "\n".join(f"• {song.title or 'Untitled'}: {suno_link(song.clip_id)}" for song in songs)
    return (
        f"Your songs from task #{task.id} ({describe_request(task.request)}) are ready, but Encore could not post "
        f"them in <#{task.channel_id}> ({shorten(task.error or 'no reason given', REASON_LIMIT)}). Here they are:\n"
        f"{shorten(links, 1500)}"
    )


def failure_notice(task: TaskRecord) -> str:
    """The channel message that tells the requester a task ended without a result."""
    what = describe_request(task.request)
    reason = shorten(task.error or "no reason given", REASON_LIMIT)
    return f"<@{task.requester_id}> ❌ Your request for {what} (task #{task.id}) failed: {reason}"


def resumed_notice(task: TaskRecord) -> str:
    """The channel message that takes back a failure in doubt: the provider did accept the request."""
    what = describe_request(task.request)
    return (
        f"<@{task.requester_id}> ✅ Correction: your request for {what} (task #{task.id}) did reach the provider "
        "after all. It is being made and will be posted here, so there is no need to ask again."
    )


def result_content(task: TaskRecord) -> str:
    request = task.request
    if isinstance(request, GenerateRequest):
        what = f"{'Reroll of' if task.reroll_of else 'Here is'} {describe_request(request)}"
    else:
        what = f"{'Reroll' if task.reroll_of else 'Extension'} of {describe_request(request)}"
    return f"🎶 {what} for <@{task.requester_id}> · task #{task.id}"


def continued_content(task: TaskRecord, part: int) -> str:
    """The text of the second and later messages of a result that needs several."""
    return f"🎶 … more of task #{task.id} ({part})"


def result_embed(task: TaskRecord, song: SongRecord, *, cover: str | None, audio: AudioNote | None) -> discord.Embed:
    """One clip: title, style, length, who asked, the source song and its continue point, cover art."""
    request = task.request
    title = song.title or request.title or "Untitled"
    link = suno_link(song.clip_id) if as_clip_id(song.clip_id) else None
    embed = discord.Embed(title=shorten(title, 256), url=link, colour=EMBED_COLOUR)
    if request.style:
        embed.add_field(name="Style", value=shorten(request.style, 1024), inline=False)
    if song.duration:
        embed.add_field(name="Length", value=format_seconds(song.duration))
    embed.add_field(name="Requested by", value=f"<@{task.requester_id}>")
    if not isinstance(request, GenerateRequest):
        embed.add_field(name="Extends", value=describe_request(request))
    if audio and audio.link:
        embed.add_field(
            name="Audio", value=f"{markdown_link('Listen', audio.link)} (too large to upload here)", inline=False
        )
    elif audio:
        embed.add_field(name="Audio", value=shorten(f"Not attached: {audio.problem}", 1024), inline=False)
    if cover:
        embed.set_image(url=cover)
    embed.set_footer(
        text=shorten(f"Encore task #{task.id} · react {REROLL_EMOJI} to reroll · clip {song.clip_id}", 2048)
    )
    return embed


def file_stem(title: str | None, fallback: str) -> str:
    """A safe file name stem from a song title."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title or "").strip("-").lower()[:60]
    return stem or fallback


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quota_message(refused: QuotaRefused) -> str:
    """Why a request was refused and when the member can try again (a Discord relative timestamp)."""
    when = f"<t:{math.ceil(refused.retry_at)}:R>" if refused.retry_at else None
    if refused.limit == "active":
        return "You already have the most tasks running at once that this server allows; try again when one finishes."
    if refused.limit == "cooldown":
        return f"Slow down a little: you can send the next request {when}."
    if refused.limit == "guild_daily":
        return f"This server has used its songs for today; the next one frees up {when}."
    return f"You have used your songs for today; the next one frees up {when}."


def refusal_text(refusal: Refusal) -> str:
    """What a member is told when Encore turns a request down."""
    return quota_message(refusal) if isinstance(refusal, QuotaRefused) else str(refusal)
