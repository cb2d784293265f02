"""The Discord side of a task: progress in the requester's reply, results and failures in the channel.

Results are posted with the bot's own token (`channel.send`), never the interaction token, so a song that
finishes hours later (or after a restart) still arrives. Media comes through `MediaFetcher` (public addresses or
trusted origins only, bounded in size, time and rate), is checked to be real audio and images, and is kept on disk
across retries of one delivery. A result too big for one message is split over several.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import discord

from bot.audio.probe import AudioInfo, probe_audio
from bot.domain.records import SongRecord, TaskRecord
from bot.media import MediaFetcher, MediaRefused, MediaTooLarge, is_safe_embed_url, sniff_image
from bot.media.cache import AudioCache
from bot.service import Delivered, DeliveryError
from bot.ui import render
from bot.ui.progress import ProgressReplies

log = logging.getLogger(__name__)

FALLBACK_UPLOAD_LIMIT = 10 * 1024 * 1024
ResultView = Callable[[TaskRecord, list[SongRecord], bool], discord.ui.View]
TOO_LARGE_CODE = 40005
# Discord's limits per message: 10 files, 10 embeds, 6,000 embed characters. With at most 10 clips a message, their
# buttons (two per clip at most) and the first message's Reroll and Delete stay within 25 components.
MAX_FILES = 10
MAX_EMBEDS = 10
MAX_EMBED_CHARS = 6000
COVER_LIMIT = 8 * 1024 * 1024
# Clips downloaded at once; a slow source holds one of these, never a posting slot.
MAX_DOWNLOADS = 16
# A file name's extension for each audio container PyAV reads (its first name otherwise: wav, flac, ogg, aac …).
CONTAINER_EXTENSIONS = {"mov,mp4,m4a,3gp,3g2,mj2": "m4a", "matroska,webm": "mka"}
AUDIO_FILE_EXTENSIONS = frozenset({"mp3", "m4a", "mka", "wav", "flac", "ogg", "aac", "aiff", "opus"})


@dataclass(frozen=True, slots=True)
class Media:
    """A clip's files on disk, or why one is missing; `audio_too_large` when only the upload limit stood in the way."""

    audio: Path | None
    cover: Path | None
    duration: float | None
    audio_problem: str | None = None
    audio_too_large: bool = False
    extension: str = "mp3"  # what the audio really is, so a FLAC is never posted under an .mp3 name


@dataclass(slots=True)
class PreparedResult:
    """What a delivery downloaded, kept until the task is posted or given up, so a retry downloads nothing again."""

    folder: tempfile.TemporaryDirectory[str]
    media: dict[str, Media]


class DiscordTaskEvents:
    """The service's `TaskEvents` as Discord messages: progress replies, results, failure notices, DMs."""

    def __init__(
        self,
        client: discord.Client,
        media: MediaFetcher,
        *,
        progress_interval: float,
        result_view: ResultView,
        audio_cache: AudioCache | None = None,
    ) -> None:
        self._client = client
        self._media = media
        self._audio_cache = audio_cache  # every clip posted is kept: its whole song later needs no download
        self._result_view = result_view
        self._prepared: dict[int, PreparedResult] = {}
        self._downloads = asyncio.Semaphore(MAX_DOWNLOADS)
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
        self._forget(task.id)
        await self.replies.update(task.id, render.status_text(task), final=True)
        await self._direct_message(task.requester_id, render.undeliverable_notice(task, songs))

    async def prepare(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        await self._prepare(task, songs)

    async def deliver(self, task: TaskRecord, songs: list[SongRecord]) -> Delivered:
        channel = self._client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
        media = await self._prepare(task, songs)
        durations = {
            song.clip_id: found.duration
            for song in songs
            if (found := media[song.clip_id]).duration and not song.duration
        }
        songs = [replace(song, duration=durations.get(song.clip_id, song.duration)) for song in songs]
        try:
            try:
                first = await self._post_all(channel, task, songs, media, attach_audio=True)
            except discord.HTTPException as error:
                if error.status != 413 and error.code != TOO_LARGE_CODE:
                    raise
                log.info("task %s: upload too large for the channel; posting audio links instead", task.id)
                first = await self._post_all(channel, task, songs, media, attach_audio=False)
        except (discord.Forbidden, discord.NotFound) as error:
            raise DeliveryError(f"the channel is gone or closed to Encore ({error.text})", permanent=True) from None
        except discord.HTTPException as error:
            permanent = error.status == 400  # Discord refused the message itself: sending it again cannot help
            raise DeliveryError(f"Discord answered {error.status} ({error.text[:200]})", permanent=permanent) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise DeliveryError(f"connection to Discord failed: {type(error).__name__}", permanent=False) from None
        return Delivered(first.id, durations)

    async def task_delivered(self, task: TaskRecord) -> None:
        """The result is recorded: add 🔁 for rerolls and point the requester's reply at it."""
        self._forget(task.id)
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
        """Stop editing replies and remove every download still kept for a retry."""
        self.replies.close()
        for task_id in list(self._prepared):
            self._forget(task_id)

    def _forget(self, task_id: int) -> None:
        if prepared := self._prepared.pop(task_id, None):
            prepared.folder.cleanup()

    def _upload_limit(self, task: TaskRecord) -> int:
        """The limit the interaction reported, else the guild's, else a conservative floor."""
        if task.upload_limit:
            return task.upload_limit
        guild = self._client.get_guild(task.guild_id) if task.guild_id else None
        return guild.filesize_limit if guild else FALLBACK_UPLOAD_LIMIT

    async def _prepare(self, task: TaskRecord, songs: list[SongRecord]) -> dict[str, Media]:
        """Download every clip's audio and cover at once (a slow one delays only its own task), once per task."""
        prepared = self._prepared.get(task.id)
        if prepared is None:
            prepared = PreparedResult(tempfile.TemporaryDirectory(prefix=f"encore-{task.id}-"), {})
            self._prepared[task.id] = prepared
        missing = [(index, song) for index, song in enumerate(songs) if song.clip_id not in prepared.media]
        folder, limit = Path(prepared.folder.name), self._upload_limit(task)
        found = await asyncio.gather(*(self._download(song, folder, index, limit) for index, song in missing))
        for (_, song), media in zip(missing, found, strict=True):
            prepared.media[song.clip_id] = media
        return prepared.media

    async def _download(self, song: SongRecord, folder: Path, index: int, limit: int) -> Media:
        async with self._downloads:
            audio, cover = await asyncio.gather(
                self._fetch_audio(song, folder / f"audio-{index}.mp3", limit),
                self._fetch_cover(song, folder / f"cover-{index}"),
            )
        return replace(audio, cover=cover)

    async def _fetch_audio(self, song: SongRecord, path: Path, limit: int) -> Media:
        if not song.audio_url:
            return Media(None, None, None, audio_problem="the provider gave no audio")
        try:
            await self._media.fetch(song.audio_url, path, max_bytes=limit, kind="audio")
        except MediaTooLarge as refused:
            return Media(None, None, None, audio_problem=refused.reason, audio_too_large=True)
        except MediaRefused as refused:
            log.warning("clip %s: audio refused: %s", song.clip_id, refused.reason)
            return Media(None, None, None, audio_problem=refused.reason)
        info = await asyncio.to_thread(playable, path)
        if info is None:
            log.warning("clip %s: the audio file is not audio any decoder can read", song.clip_id)
            return Media(None, None, None, audio_problem="the file is not audio that can be played")
        if self._audio_cache:
            await asyncio.to_thread(self._audio_cache.put, song.clip_id, path)
        return Media(path, None, info.duration, extension=audio_extension(info))

    async def _fetch_cover(self, song: SongRecord, stem: Path) -> Path | None:
        if not song.image_url:
            return None
        download = stem.with_suffix(".img")
        try:
            await self._media.fetch(song.image_url, download, max_bytes=COVER_LIMIT, kind="image")
        except MediaRefused as refused:
            log.info("clip %s: cover refused: %s", song.clip_id, refused.reason)
            return None
        return await asyncio.to_thread(named_by_content, download, stem)

    async def _post_all(
        self,
        channel: discord.abc.Messageable,
        task: TaskRecord,
        songs: list[SongRecord],
        media: dict[str, Media],
        *,
        attach_audio: bool,
    ) -> discord.Message:
        """Post the result in as many messages as Discord's limits need; return the first (the result's id)."""
        first: discord.Message | None = None
        # Grouped as if every file were attached, also for the links-only fallback: each message keeps its nonce
        # and its clips, so a fallback after a partly posted result cannot shuffle clips between messages.
        groups = pack_messages(task, songs, media, attach_audio=True)
        for number, group in enumerate(groups):
            files, embeds = self._message_parts(task, group, media, attach_audio=attach_audio)
            content = render.result_content(task) if number == 0 else render.continued_content(task, number + 1)
            message = await channel.send(
                content,
                embeds=embeds,
                files=files,
                view=self._result_view(task, group, number == 0),
                nonce=f"encore-{task.id}" if number == 0 else f"encore-{task.id}-{number + 1}",
                allowed_mentions=discord.AllowedMentions.none(),
            )
            first = first or message
        assert first is not None  # a succeeded task has at least one song
        return first

    @staticmethod
    def _message_parts(
        task: TaskRecord, songs: Sequence[SongRecord], media: dict[str, Media], *, attach_audio: bool
    ) -> tuple[list[discord.File], list[discord.Embed]]:
        files: list[discord.File] = []
        embeds: list[discord.Embed] = []
        for song in songs:
            found = media[song.clip_id]
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

    async def fetch_file(self, url: str, path: Path, limit: int) -> str | None:
        """Download a member's attachment to `path`; None when done, else why it could not be (fit to show them)."""
        try:
            await self._media.fetch(url, path, max_bytes=limit, kind="audio")
        except MediaRefused as refused:
            log.warning("could not download an attachment: %s", refused.reason)
            return refused.reason
        return None


def playable(path: Path) -> AudioInfo | None:
    """A downloaded clip's length and format, or None (and the file removed) when no decoder can play it."""
    info = probe_audio(path)
    if info is None:
        path.unlink(missing_ok=True)
    return info


def playable_duration(path: Path) -> float | None:
    """The length of a downloaded clip, or None (and the file removed) when no decoder can play it."""
    info = playable(path)
    return info.duration if info else None


def audio_extension(info: AudioInfo) -> str:
    """The file extension of what the audio really is, whatever its URL said."""
    return CONTAINER_EXTENSIONS.get(info.container, info.container.split(",")[0])


def named_by_content(download: Path, stem: Path) -> Path:
    """Rename a downloaded image after what its bytes are (png, jpg, gif, webp), whatever its URL said."""
    with download.open("rb") as file:
        extension = sniff_image(file.read(16))
    return download.rename(stem.with_suffix(f".{extension}" if extension in ("png", "gif", "webp") else ".jpeg"))


def audio_note(song: SongRecord, media: Media, uploaded: bool) -> render.AudioNote | None:
    """What the embed says of a clip's audio when it is not attached: a link, or why there is none."""
    if uploaded:
        return None
    if (media.audio is not None or media.audio_too_large) and is_safe_embed_url(song.audio_url):
        return render.AudioNote(link=song.audio_url)
    return render.AudioNote(problem=media.audio_problem or "the audio could not be fetched")


def pack_messages(
    task: TaskRecord, songs: list[SongRecord], media: dict[str, Media], *, attach_audio: bool
) -> list[list[SongRecord]]:
    """Group clips into messages within Discord's limits on files, embeds, embed characters and buttons."""
    groups: list[list[SongRecord]] = [[]]
    files = chars = 0
    for song in songs:
        found = media[song.clip_id]
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
