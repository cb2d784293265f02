"""The Discord side of a task: progress in the requester's reply, results and failures in the channel.

Results are posted with the bot's own token (`channel.send`), never the interaction token, so a song that
finishes hours later (or after a restart) still arrives. Audio is streamed to temporary files, checked against
the upload limit, and posted as a link when it is too large.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import discord
from mutagen import MutagenError
from mutagen.mp3 import MP3

from bot.domain.records import SongRecord, TaskRecord
from bot.service import Delivered, DeliveryError
from bot.ui import render
from bot.ui.progress import ProgressReplies

log = logging.getLogger(__name__)

FALLBACK_UPLOAD_LIMIT = 10 * 1024 * 1024
ResultView = Callable[[TaskRecord, list[SongRecord]], discord.ui.View]
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=15, sock_read=60)
CHUNK_SIZE = 64 * 1024
TOO_LARGE_CODE = 40005


@dataclass(frozen=True, slots=True)
class Download:
    """A clip's files on disk; `None` where a file is too large or could not be fetched."""

    audio: Path | None
    cover: Path | None
    duration: float | None


def mp3_duration(path: Path) -> float | None:
    """The length of an mp3 in seconds, read from its frames; `None` when it is not readable mp3."""
    try:
        info = MP3(path).info  # type: ignore[no-untyped-call]
    except (MutagenError, OSError):
        return None
    length = float(info.length) if info else 0.0
    return length if length > 0 else None


class DiscordTaskEvents:
    """The service's `TaskEvents` as Discord messages: progress replies, results, failure notices, DMs."""

    def __init__(
        self,
        client: discord.Client,
        session: aiohttp.ClientSession,
        *,
        progress_interval: float,
        result_view: ResultView,
    ) -> None:
        self._client = client
        self._session = session
        self._result_view = result_view
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

    async def deliver(self, task: TaskRecord, songs: list[SongRecord]) -> Delivered:
        channel = self._client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
        with tempfile.TemporaryDirectory(prefix=f"encore-{task.id}-") as folder:
            limit = self._upload_limit(task)
            downloads = [await self._download(song, Path(folder), index, limit) for index, song in enumerate(songs)]
            durations = {
                song.clip_id: download.duration
                for song, download in zip(songs, downloads, strict=True)
                if download.duration and not song.duration
            }
            songs = [replace(song, duration=durations.get(song.clip_id, song.duration)) for song in songs]
            try:
                try:
                    message = await self._post(channel, task, songs, downloads, attach_audio=True)
                except discord.HTTPException as error:
                    if error.status != 413 and error.code != TOO_LARGE_CODE:
                        raise
                    log.info("task %s: upload too large for the channel; posting audio links instead", task.id)
                    message = await self._post(channel, task, songs, downloads, attach_audio=False)
            except (discord.Forbidden, discord.NotFound) as error:
                raise DeliveryError(f"the channel is gone or closed to Encore ({error.text})", permanent=True) from None
            except discord.HTTPException as error:
                raise DeliveryError(f"Discord answered {error.status}", permanent=False) from None
            except (TimeoutError, aiohttp.ClientError) as error:
                raise DeliveryError(f"connection to Discord failed: {type(error).__name__}", permanent=False) from None
        return Delivered(message.id, durations)

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

    def _upload_limit(self, task: TaskRecord) -> int:
        """The limit the interaction reported, else the guild's, else a conservative floor."""
        if task.upload_limit:
            return task.upload_limit
        guild = self._client.get_guild(task.guild_id) if task.guild_id else None
        return guild.filesize_limit if guild else FALLBACK_UPLOAD_LIMIT

    async def _post(
        self,
        channel: discord.abc.Messageable,
        task: TaskRecord,
        songs: list[SongRecord],
        downloads: list[Download],
        *,
        attach_audio: bool,
    ) -> discord.Message:
        files: list[discord.File] = []
        embeds: list[discord.Embed] = []
        for index, (song, download) in enumerate(zip(songs, downloads, strict=True), start=1):
            cover = song.image_url
            if download.cover:
                cover_name = f"cover-{index}{download.cover.suffix}"
                files.append(discord.File(download.cover, filename=cover_name))
                cover = f"attachment://{cover_name}"
            uploaded = attach_audio and download.audio is not None
            if uploaded and download.audio:
                files.append(
                    discord.File(download.audio, filename=f"{render.file_stem(song.title, 'encore')}-{index}.mp3")
                )
            embeds.append(render.result_embed(task, song, cover=cover, audio_link=None if uploaded else song.audio_url))
        return await channel.send(
            render.result_content(task),
            embeds=embeds,
            files=files,
            view=self._result_view(task, songs),
            nonce=f"encore-{task.id}",
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _download(self, song: SongRecord, folder: Path, index: int, limit: int) -> Download:
        audio = await self.fetch_file(song.audio_url, folder / f"audio-{index}.mp3", limit)
        suffix = ".png" if (song.image_url or "").lower().endswith(".png") else ".jpeg"
        cover = await self.fetch_file(song.image_url, folder / f"cover-{index}{suffix}", limit)
        return Download(audio=audio, cover=cover, duration=mp3_duration(audio) if audio else None)

    async def fetch_file(self, url: str | None, path: Path, limit: int) -> Path | None:
        """Stream `url` to `path`; `None` when it is missing, fails, or grows past `limit` bytes."""
        if not url:
            return None
        try:
            async with self._session.get(url, timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status != 200 or (response.content_length or 0) > limit:
                    return None
                size = 0
                with path.open("wb") as file:
                    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                        size += len(chunk)
                        if size > limit:
                            return None
                        file.write(chunk)
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning("download of %s failed: %s", url, type(error).__name__)
            return None
        return path

    async def _direct_message(self, user_id: int, text: str) -> None:
        try:
            user = self._client.get_user(user_id) or await self._client.fetch_user(user_id)
            await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as error:
            log.warning("could not DM user %s either: %s", user_id, error)
