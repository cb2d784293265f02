"""The whole song in Discord: a reply to the result with the joined mp3, its waveform picture and the whole chain's
credits, plus what the service needs from Discord to build it (fresh attachment URLs, member names, limits).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable

import aiohttp
import discord

from bot.audio.waveform import format_clock
from bot.domain.records import TaskRecord, WholeSongRecord
from bot.domain.wholesong import Span
from bot.service.pages import PagePublisher
from bot.service.ports import DeliveryError, WholeSongPost
from bot.service.result_media import AUDIO_FILE_EXTENSIONS
from bot.service.wholesong import WholeSongBuilding, WholeSongOutcome, WholeSongPosted
from bot.ui import listing, render
from bot.ui.client import EncoreClient
from bot.ui.task_messages import TOO_LARGE_CODE, add_page_buttons, member_names, upload_limit

log = logging.getLogger(__name__)

WAVEFORM_NAME = "waveform.png"
WholeSongView = Callable[[str], discord.ui.View]


def whole_song_nonce(clip_id: str) -> str:
    """A fixed nonce per whole song (25 characters at most), so a post retried within minutes is not doubled."""
    return "encore-w" + hashlib.sha256(clip_id.encode()).hexdigest()[:16]


def outcome_text(outcome: WholeSongOutcome) -> str:
    """What the member who pressed Whole song is told."""
    if isinstance(outcome, WholeSongPosted):
        record = outcome.record
        link = listing.message_link(record.guild_id, record.channel_id or 0, record.message_id or 0)
        return f"🎼 Here is the whole song: {link}" if outcome.new else f"🎼 The whole song is already posted: {link}"
    if isinstance(outcome, WholeSongBuilding):
        return (
            f"⏳ The whole song is being built (since {listing.relative(outcome.record.claimed_at)}); it will be "
            "posted in the channel. If nothing comes within a few minutes, press again."
        )
    return f"⚠️ {outcome.reason}"


def part_lines(post: WholeSongPost) -> list[str]:
    """One line per part: where it plays on the whole song, which clip it is, and which stretch of that clip."""
    lines = []
    for index, (part, span) in enumerate(zip(post.parts, post.timeline.spans, strict=True), start=1):
        link = render.suno_link(part.clip_id)
        if part.song is None:
            label = f"[{part.clip_id[:8]}]({link}) · a Suno song Encore did not make"
        else:
            by = f" by <@{part.song.owner_id}>" if part.song.owner_id else ""
            label = f"{listing.linked_title(part.song.title, link)}{by}"
        lines.append(f"`{_range(span)}` {index}. {label} · its {_own_range(span)}")
    return lines


def _range(span: Span) -> str:
    return f"{format_clock(span.start)}–{format_clock(span.end)}" if span.end is not None else format_clock(span.start)


def _own_range(span: Span) -> str:
    length = (span.end or span.start) - span.start
    return f"0:00–{format_clock(length)}"


def whole_song_embed(post: WholeSongPost) -> discord.Embed:
    """The joined song: its parts on one timeline, everyone who made one, and the waveform with the seams."""
    title = post.song.title or "Untitled"
    embed = discord.Embed(
        title=render.shorten(f"{title} · the whole song", 256),
        url=render.suno_link(post.song.clip_id),
        colour=render.EMBED_COLOUR,
    )
    embed.description = render.shorten("\n".join(listing.fold_chain(part_lines(post))), 4096)
    embed.add_field(name="Made by", value=listing.mentions(post.makers) or "—", inline=False)
    embed.add_field(name="Length", value=format_clock(post.timeline.duration))
    embed.add_field(name="Parts", value=str(len(post.parts)))
    embed.add_field(name="Quality", value=f"MP3 {post.bitrate // 1000} kbit/s")
    embed.set_image(url=f"attachment://{WAVEFORM_NAME}")
    built = f"Audio: {post.built_by} · " if post.built_by else ""
    embed.set_footer(text=f"{built}Extend it from any point: `at` is on the whole song · clip {post.song.clip_id}")
    return embed


class WholeSongMessages:
    """The service's `WholeSongEvents` as Discord calls (the post, its failure notice, fresh attachment URLs, names),
    with the bot's own token: no interaction is needed."""

    def __init__(self, client: EncoreClient, *, view: WholeSongView, pages: PagePublisher | None = None) -> None:
        self._client = client
        self._view = view
        self._pages = pages

    async def result_audio_url(self, task: TaskRecord, position: int) -> str | None:
        """The clip's mp3 on the result message, read again now: Discord's attachment URLs are signed and expire."""
        what = f"task {task.id}'s result message"
        return await self._attachment_url(
            task.channel_id, task.guild_id, task.result_message_id, lambda name: is_audio_of(name, position), what
        )

    async def whole_song_audio_url(self, record: WholeSongRecord) -> str | None:
        """The posted whole song's mp3, read again now (for `/listen whole:`): attachment URLs expire."""
        what = f"the whole song of {record.clip_id}"
        return await self._attachment_url(
            record.channel_id, record.guild_id, record.message_id, lambda name: name.endswith("-whole-song.mp3"), what
        )

    async def _attachment_url(
        self,
        channel_id: int | None,
        guild_id: int | None,
        message_id: int | None,
        matches: Callable[[str], bool],
        what: str,
    ) -> str | None:
        """The URL of a message's attachment whose name `matches`; None when there is none (or no message)."""
        if channel_id is None or message_id is None:
            return None
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            message = await channel.fetch_message(message_id)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            log.info("%s cannot be read: %s", what, error)
            return None
        return next((a.url for a in message.attachments if matches(a.filename)), None)

    async def maker_names(self, guild_id: int | None, user_ids: list[int]) -> list[str]:
        """Server display names where Encore can read them; a member it cannot is left out of the tags."""
        return await member_names(self._client, guild_id, user_ids)

    def upload_limit(self, guild_id: int | None) -> int:
        return upload_limit(self._client, guild_id)

    async def post_whole_song(self, post: WholeSongPost) -> int:
        channel = self._client.get_partial_messageable(post.channel_id, guild_id=post.guild_id)
        stem = render.file_stem(post.song.title, "encore")
        files = [
            discord.File(post.audio, filename=f"{stem}-whole-song.mp3"),
            discord.File(io.BytesIO(post.waveform_png), filename=WAVEFORM_NAME),
        ]
        title = discord.utils.escape_markdown(render.shorten(post.song.title or "Untitled", 80))  # bold, not a link
        content = (
            f"🎼 The whole song of **{title}**: {len(post.parts)} parts joined, {format_clock(post.timeline.duration)}"
        )
        view = self._view(post.song.clip_id)
        page_id = await self._reserve_page(post)
        if page_id and self._pages:
            add_page_buttons(view, [post.song], {post.song.clip_id: self._pages.url(page_id)})
        try:
            message = await channel.send(
                content,
                embed=whole_song_embed(post),
                files=files,
                view=view,
                reference=self._reference(post.channel_id, post.guild_id, post.reply_to),
                nonce=whole_song_nonce(post.song.clip_id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            if error.status == 413 or error.code == TOO_LARGE_CODE:
                size = post.audio.stat().st_size / 1e6
                raise DeliveryError(
                    f"Discord refused the whole song ({size:.1f} MB) as too large for this channel; nothing was "
                    "posted.",
                    permanent=True,
                ) from None
            if isinstance(error, discord.Forbidden | discord.NotFound):
                raise DeliveryError(f"Encore cannot post in this channel ({error.text}).", permanent=True) from None
            raise DeliveryError(f"Discord answered {error.status}; press again to retry.", permanent=False) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise DeliveryError(f"the connection to Discord failed ({type(error).__name__})", permanent=False) from None
        if page_id and self._pages:
            try:
                await self._pages.posted(page_id, post.channel_id, message.id)
            except Exception:
                log.warning("whole song of %s: could not record its page", post.song.clip_id, exc_info=True)
        return message.id

    async def _reserve_page(self, post: WholeSongPost) -> str | None:
        """The whole song's page while its server has pages on, its audio kept for it; a failure only costs the page."""
        if self._pages is None or post.guild_id is None:
            return None
        try:
            if not await self._pages.enabled(post.guild_id):
                return None
            await self._pages.keep_whole_song(post.song.clip_id, post.audio)
            return await self._pages.reserve(
                post.song.clip_id,
                whole=True,
                guild_id=post.guild_id,
                task_id=post.song.task_id,
                makers=post.maker_names,
                model=None,
            )
        except Exception:
            log.warning("whole song of %s: could not reserve its page", post.song.clip_id, exc_info=True)
            return None

    async def whole_song_failed(self, channel_id: int, guild_id: int | None, reply_to: int | None, reason: str) -> None:
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(
                f"⚠️ Encore could not make the whole song: {reason}",
                reference=self._reference(channel_id, guild_id, reply_to),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.warning("could not say that a whole song failed in channel %s: %s", channel_id, error)

    @staticmethod
    def _reference(channel_id: int, guild_id: int | None, reply_to: int | None) -> discord.MessageReference:
        """A reply to the result, or a plain message when the result was deleted meanwhile (or is not known)."""
        if reply_to is None:
            missing: discord.MessageReference = discord.utils.MISSING
            return missing
        return discord.MessageReference(
            message_id=reply_to, channel_id=channel_id, guild_id=guild_id, fail_if_not_exists=False
        )


def is_audio_of(filename: str, position: int) -> bool:
    """Whether a result's attachment is the audio of its `position`-th clip (`<title>-<position>.<audio extension>`),
    whatever the audio's type."""
    stem, _, extension = filename.rpartition(".")
    return stem.endswith(f"-{position}") and extension in AUDIO_FILE_EXTENSIONS
