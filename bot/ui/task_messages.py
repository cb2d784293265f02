"""A task's messages in Discord: progress in the requester's reply, results and failures in the channel.

Results are posted with the bot's own token (`channel.send`), never the interaction token, so a song that
finishes hours later (or after a restart) still arrives. The service prepares their files (`ClipMedia`); this
only renders and posts them. A result too big for one message is split over several.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import aiohttp
import discord

from bot.domain.records import SongRecord, TaskRecord
from bot.media import is_safe_embed_url
from bot.service import ClipMedia, DeliveryError, PostedParts
from bot.service.pages import PagePublisher
from bot.service.ports import NO_MEDIA
from bot.ui import render
from bot.ui._progress import ProgressReplies

log = logging.getLogger(__name__)

FALLBACK_UPLOAD_LIMIT = 10 * 1024 * 1024
ResultView = Callable[[TaskRecord, list[SongRecord], bool], discord.ui.View]
TOO_LARGE_CODE = 40005
# Discord's limits per message: 10 files, 10 embeds, 6,000 embed characters. With at most 10 clips a message, their
# buttons (two per clip at most) and the first message's Reroll and Delete stay within 25 components.
MAX_FILES = 10
MAX_EMBEDS = 10
MAX_EMBED_CHARS = 6000
MAX_COMPONENTS = 25  # Discord's limit per message: Page buttons are added while there is room


class TaskMessages:
    """The service's `TaskEvents` as Discord messages: progress replies, results, failure notices, DMs."""

    def __init__(
        self,
        client: discord.Client,
        *,
        progress_interval: float,
        result_view: ResultView,
        pages: PagePublisher | None = None,
    ) -> None:
        self._client = client
        self._result_view = result_view
        self._pages = pages
        self.replies = ProgressReplies(progress_interval)

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        if self.replies.tracks(task.id):
            text = render.status_text(task, position)
            await self.replies.update(task.id, f"{text} · retrying ({retrying})" if retrying else text)

    async def task_failed(self, task: TaskRecord) -> None:
        await self.replies.update(task.id, render.status_text(task), final=True)
        channel = self._client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
        notice = render.failure_notice(task)
        mention_requester = discord.AllowedMentions(users=[discord.Object(task.requester_id)])
        try:
            await channel.send(notice, allowed_mentions=mention_requester)
        except discord.HTTPException as error:
            log.warning("task %s: could not post its failure in the channel (%s); trying a DM", task.id, error)
            await self._direct_message(task.requester_id, notice)

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        await self.replies.update(task.id, render.status_text(task), final=True)
        await self._direct_message(task.requester_id, render.undeliverable_notice(task, songs))

    def upload_limit(self, guild_id: int | None) -> int:
        return upload_limit(self._client, guild_id)

    async def task_resumed(self, task: TaskRecord) -> None:
        """Correct the failure notice in the channel: the song is coming after all, so asking again would pay twice."""
        channel = self._client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
        mention_requester = discord.AllowedMentions(users=[discord.Object(task.requester_id)])
        await channel.send(render.resumed_notice(task), allowed_mentions=mention_requester)

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        channel = self._client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
        pages = await self._reserve_pages(task, songs)
        try:
            try:
                first = await self._post_all(channel, task, songs, media, parts, pages, attach_audio=True)
            except discord.HTTPException as error:
                if error.status != 413 and error.code != TOO_LARGE_CODE:
                    raise
                log.info("task %s: upload too large for the channel; posting audio links instead", task.id)
                first = await self._post_all(channel, task, songs, media, parts, pages, attach_audio=False)
        except (discord.Forbidden, discord.NotFound) as error:
            raise DeliveryError(f"the channel is gone or closed to Encore ({error.text})", permanent=True) from None
        except discord.HTTPException as error:
            permanent = error.status == 400  # Discord refused the message itself: sending it again cannot help
            raise DeliveryError(f"Discord answered {error.status} ({error.text[:200]})", permanent=permanent) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise DeliveryError(f"connection to Discord failed: {type(error).__name__}", permanent=False) from None
        return first

    async def task_delivered(self, task: TaskRecord) -> None:
        """The result is recorded: add 🔁 for rerolls and point the requester's reply at it."""
        if task.result_message_id is None:
            return
        channel = self._client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
        message = channel.get_partial_message(task.result_message_id)
        await self.replies.update(task.id, render.posted_text(task, message.jump_url), final=True)
        try:
            await message.add_reaction(render.REROLL_EMOJI)
        except discord.HTTPException as error:
            log.info("task %s: could not add the reroll reaction: %s", task.id, error)

    def close(self) -> None:
        """Stop editing replies."""
        self.replies.close()

    async def _post_all(
        self,
        channel: discord.abc.Messageable,
        task: TaskRecord,
        songs: list[SongRecord],
        media: Mapping[str, ClipMedia],
        parts: PostedParts,
        pages: dict[str, str],
        *,
        attach_audio: bool,
    ) -> int:
        """Post the result in as many messages as Discord's limits need, but the `parts` already posted; return the
        first message's id (the result's)."""
        first: int | None = None
        # Grouped as if every file were attached, also for the links-only fallback: each message keeps its nonce
        # and its clips, so a fallback after a partly posted result cannot shuffle clips between messages.
        groups = pack_messages(task, songs, media, attach_audio=True)
        for number, group in enumerate(groups):
            if (posted := parts.get(number)) is not None:
                first = first or posted
                continue
            files, embeds = self._message_parts(task, group, media, attach_audio=attach_audio)
            content = render.result_content(task) if number == 0 else render.continued_content(task, number + 1)
            view = self._result_view(task, group, number == 0)
            if self._pages:
                add_page_buttons(view, group, {clip: self._pages.url(page) for clip, page in pages.items()})
            message = await channel.send(
                content,
                embeds=embeds,
                files=files,
                view=view,
                nonce=f"encore-{task.id}" if number == 0 else f"encore-{task.id}-{number + 1}",
                allowed_mentions=discord.AllowedMentions.none(),
            )
            await parts.add(number, message.id)
            await self._pages_posted([pages[song.clip_id] for song in group if song.clip_id in pages], task, message)
            first = first or message.id
        assert first is not None  # a succeeded task has at least one song
        return first

    async def _reserve_pages(self, task: TaskRecord, songs: list[SongRecord]) -> dict[str, str]:
        """Page ids of the result's clips while its server has pages on, reserved before posting (the Page buttons
        link them). A page is a bonus: a failure here is logged and the result posted without one."""
        if self._pages is None or task.guild_id is None:
            return {}
        try:
            if not await self._pages.enabled(task.guild_id):
                return {}
            makers = await member_names(self._client, task.guild_id, [task.requester_id])
            found = {}
            for song in songs:
                page_id = await self._pages.reserve(
                    song.clip_id,
                    whole=False,
                    guild_id=task.guild_id,
                    task_id=task.id,
                    makers=makers,
                    model=task.request.model,
                )
                if page_id:
                    found[song.clip_id] = page_id
        except Exception:
            log.warning("task %s: could not reserve its song pages", task.id, exc_info=True)
            return {}
        return found

    async def _pages_posted(self, page_ids: list[str], task: TaskRecord, message: discord.Message) -> None:
        if self._pages is None:
            return
        try:
            for page_id in page_ids:
                await self._pages.posted(page_id, task.channel_id, message.id)
        except Exception:
            log.warning("task %s: could not record its song pages", task.id, exc_info=True)

    @staticmethod
    def _message_parts(
        task: TaskRecord, songs: Sequence[SongRecord], media: Mapping[str, ClipMedia], *, attach_audio: bool
    ) -> tuple[list[discord.File], list[discord.Embed]]:
        files: list[discord.File] = []
        embeds: list[discord.Embed] = []
        for song in songs:
            found = media.get(song.clip_id, NO_MEDIA)
            index = len(embeds) + 1
            cover = None
            if found.cover:
                cover_name = f"cover-{index}{found.cover.suffix}"
                files.append(discord.File(found.cover, filename=cover_name))
                cover = f"attachment://{cover_name}"
            uploaded = attach_audio and found.audio is not None
            if uploaded and found.audio:
                files.append(
                    discord.File(
                        found.audio, filename=f"{render.file_stem(song.title, 'encore')}-{index}.{found.extension}"
                    )
                )
            embeds.append(render.result_embed(task, song, cover=cover, audio=audio_note(song, found, uploaded)))
        return files, embeds

    async def _direct_message(self, user_id: int, text: str) -> None:
        try:
            user = self._client.get_user(user_id) or await self._client.fetch_user(user_id)
            await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as error:
            log.warning("could not DM user %s either: %s", user_id, error)


async def member_names(client: discord.Client, guild_id: int | None, user_ids: list[int]) -> list[str]:
    """Server display names where Encore can read them; a member it cannot is left out."""
    guild = client.get_guild(guild_id) if guild_id else None
    names = []
    for user_id in user_ids:
        try:
            if guild is not None:
                member = guild.get_member(user_id) or await guild.fetch_member(user_id)
                names.append(member.display_name)
            else:
                user = client.get_user(user_id) or await client.fetch_user(user_id)
                names.append(user.display_name)
        except discord.HTTPException as error:
            log.info("no name for member %s: %s", user_id, error)
    return names


def add_page_buttons(view: discord.ui.View, songs: Sequence[SongRecord], links: dict[str, str]) -> None:
    """A **Page** link button per clip that has a page (numbered when there are several), while the message has room."""
    linked = [links[song.clip_id] for song in songs if song.clip_id in links]
    for index, url in enumerate(linked, start=1):
        if len(view.children) >= MAX_COMPONENTS:
            break
        label = f"Page {index}" if len(linked) > 1 else "Page"
        view.add_item(discord.ui.Button(label=label, emoji="🌐", style=discord.ButtonStyle.link, url=url))


def upload_limit(client: discord.Client, guild_id: int | None) -> int:
    """The server's upload limit per file, else a conservative floor."""
    guild = client.get_guild(guild_id) if guild_id else None
    return guild.filesize_limit if guild else FALLBACK_UPLOAD_LIMIT


def audio_note(song: SongRecord, media: ClipMedia, uploaded: bool) -> render.AudioNote | None:
    """What the embed says of a clip's audio when it is not attached: a link, or why there is none."""
    if uploaded:
        return None
    if (media.audio is not None or media.audio_too_large) and is_safe_embed_url(song.audio_url):
        return render.AudioNote(link=song.audio_url)
    return render.AudioNote(problem=media.audio_problem or "the audio could not be fetched")


def pack_messages(
    task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], *, attach_audio: bool
) -> list[list[SongRecord]]:
    """Group clips into messages within Discord's limits on files, embeds, embed characters and buttons."""
    groups: list[list[SongRecord]] = [[]]
    files = chars = 0
    for song in songs:
        found = media.get(song.clip_id, NO_MEDIA)
        need_files = (1 if found.cover else 0) + (1 if attach_audio and found.audio else 0)
        uploaded = attach_audio and found.audio is not None
        need_chars = len(render.result_embed(task, song, cover=None, audio=audio_note(song, found, uploaded)))
        current = groups[-1]
        full = len(current) >= MAX_EMBEDS or files + need_files > MAX_FILES or chars + need_chars > MAX_EMBED_CHARS
        if current and full:
            groups.append([])
            files = chars = 0
        groups[-1].append(song)
        files += need_files
        chars += need_chars
    return groups
