"""One server's voice session: its connection, queue, now-playing message, and how it ends.

discord.py's player thread calls the source's `read()` every 20 ms and its `after` callback when a song stops, in
that thread, so `after` only wakes the event loop. The now-playing message shows where the song ends as a Discord
timestamp (no edit per second) and is edited when the queue moves, at most once per `EDIT_INTERVAL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import time
from typing import TYPE_CHECKING

import discord

from bot.domain.errors import Refusal
from bot.domain.validation import format_seconds
from bot.service.listen import RADIO_ORDERS, ListenQueue, Radio, Track
from bot.ui import render
from bot.ui.voice._buttons import now_playing_view
from bot.ui.voice._source import OpusPacketSource

if TYPE_CHECKING:
    from bot.ui.voice._players import VoicePlayers

log = logging.getLogger("bot.voice")

EDIT_INTERVAL = 2.0
"""Seconds between two edits of a now-playing message (Discord allows about 5 per 5 s per channel)."""
QUEUE_SHOWN = 10
WAVEFORM_NAME = "waveform.png"
RADIO_BATCH = 5
"""Songs the radio adds each time the queue runs dry."""


def listeners(channel: discord.VoiceChannel | discord.StageChannel) -> list[int]:
    """Ids of the people (not bots) in a voice channel, from the voice states Discord sent."""
    people = []
    for user_id in channel.voice_states:
        member = channel.guild.get_member(user_id)
        if member is None or not member.bot:
            people.append(user_id)
    return people


class GuildPlayer:
    """A server's session: its voice connection, queue and now-playing message; ends by leaving and saying why."""

    def __init__(
        self,
        players: VoicePlayers,
        voice: discord.VoiceClient,
        text_channel: discord.abc.Messageable,
        starter_id: int,
        queue: ListenQueue,
        *,
        resume_at: float = 0.0,
    ) -> None:
        self.players = players
        self._resume_at = resume_at  # into the first song, after a restart
        self.restarting = False  # ended by a shutdown: the saved queue stays for the next start
        self.radio: Radio | None = None  # refills the queue when it runs dry
        self.voice = voice
        self.channel_id = voice.channel.id
        self.guild_id = voice.guild.id
        self.text_channel = text_channel
        self.text_channel_id = getattr(text_channel, "id", 0)
        self.starter_id = starter_id
        self.queue = queue
        self.source: OpusPacketSource | None = None
        self.duration = 0.0  # of the current song
        self.waveform: bytes | None = None  # its picture, shown in the now-playing message
        self._new_waveform = False  # the message shows the previous song's picture
        self.skip_votes: set[int] = set()
        self._skipped = False
        self.message: discord.Message | None = None
        self.started_at = 0.0  # monotonic time the current song would have started, pauses excluded
        self._paused_at: float | None = None
        self._song_done = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._end_reason: str | None = None
        self._dirty = asyncio.Event()
        self._editor: asyncio.Task[None] | None = None
        self._idle: asyncio.Task[None] | None = None
        self.task = asyncio.create_task(self._run(), name=f"encore-voice-{self.guild_id}")

    @property
    def paused(self) -> bool:
        return self.voice.is_paused()

    def listeners(self) -> list[int]:
        """The people in the session's channel now."""
        return listeners(self.voice.channel)

    async def _run(self) -> None:
        reason = "the queue has ended"
        try:
            skipped_in_a_row = 0
            while self._end_reason is None and (track := await self._next_track()) is not None:
                if not self.voice.is_connected():
                    self._end_reason = "Encore was disconnected from the voice channel"
                    break
                try:
                    packets = await self.players.audio.prepare(track)
                except Refusal as refusal:
                    await self._say(f"⚠️ Skipped **{discord.utils.escape_markdown(track.title)}**: {refusal}")
                    skipped_in_a_row += 1
                    if skipped_in_a_row >= RADIO_BATCH:
                        self._end_reason = "none of the songs could be played"
                    continue
                skipped_in_a_row = 0
                self.waveform = await asyncio.to_thread(self.players.audio.waveform, track)
                self._new_waveform = self.waveform is not None
                self.source = OpusPacketSource(packets, self._resume_at)
                self._resume_at = 0.0
                self.duration = packets.duration
                await self.players.save(self)
                self.skip_votes.clear()
                self._song_done.clear()
                self.started_at, self._paused_at = time.monotonic(), None
                self._skipped = False
                try:
                    self.voice.play(self.source, after=self._after_song)
                except discord.ClientException:  # the connection went between two songs
                    self._end_reason = self._end_reason or "Encore was disconnected from the voice channel"
                    break
                self.refresh()
                self._prepare_next()
                await self._song_done.wait()
                if not self._skipped and self.source.sent < len(packets.packets):
                    # Stopped by neither the song's end nor Skip: discord.py stops the player when the voice
                    # connection is lost (a moderator's disconnect, a deleted channel).
                    self._end_reason = self._end_reason or "Encore was disconnected from the voice channel"
            reason = self._end_reason or reason
        except Exception:
            log.exception("voice session in guild %s failed", self.guild_id)
            reason = "something went wrong on Encore's side"
        finally:
            await self._leave(reason)

    async def _next_track(self) -> Track | None:
        """The queue's next song; when it has run dry, the radio's next ones (if it is on)."""
        track = self.queue.advance()
        if track is None and self.radio is not None:
            self.queue.waiting.extend(await self.radio.more(RADIO_BATCH))
            track = self.queue.advance()
        return track

    def _prepare_next(self) -> None:
        """Encode the next song while this one plays, so it starts on time (a failure is reported when it is due)."""
        if self.queue.waiting:
            upcoming = self.queue.waiting[0]
            task = asyncio.create_task(self.players.audio.prepare(upcoming), name=f"encore-voice-next-{self.guild_id}")
            task.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _say(self, text: str) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.text_channel.send(text)

    def _after_song(self, error: Exception | None) -> None:
        """discord.py's player thread: a song ended, was skipped or stopped; only wake the event loop."""
        if error is not None:
            log.warning("voice player in guild %s stopped: %r", self.guild_id, error)
        self._loop.call_soon_threadsafe(self._song_done.set)

    def end(self, reason: str) -> None:
        """End the session after the current packet: nothing more is played from the queue."""
        if self._end_reason is None:
            self._end_reason = reason
        if self.voice.is_playing() or self.voice.is_paused():
            self.voice.stop()
        self._song_done.set()

    def skip(self) -> None:
        self._skipped = True
        self.voice.stop()  # fires `after`: the next song starts

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        if self.voice.is_paused():
            self.voice.resume()
            if self._paused_at is not None:
                self.started_at += time.monotonic() - self._paused_at
            self._paused_at = None
        elif self.voice.is_playing():
            self.voice.pause()
            self._paused_at = time.monotonic()
        self.refresh()
        return self.voice.is_paused()

    def company_changed(self) -> None:
        """Someone joined or left the channel: leave after `idle_seconds` alone, or stay."""
        alone = not self.listeners()
        if alone and self._idle is None:
            self._idle = asyncio.create_task(self._leave_when_alone(), name=f"encore-voice-idle-{self.guild_id}")
        elif not alone and self._idle is not None:
            self._idle.cancel()
            self._idle = None

    async def _leave_when_alone(self) -> None:
        seconds = self.players.limits.idle_seconds
        await asyncio.sleep(seconds)
        self.end(f"nobody else was in the channel for {format_seconds(seconds)}")

    async def _leave(self, reason: str) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.players.forget(self)
        if not self.restarting:
            await self.players.unsave(self.guild_id)
        if self.voice.is_connected():
            with contextlib.suppress(discord.HTTPException, asyncio.TimeoutError):
                await self.voice.disconnect()
        if self._editor is not None:
            self._editor.cancel()
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(embed=self._embed(ended=True), view=None, attachments=[])
        await self._say(f"👋 Encore left <#{self.channel_id}>: {reason}.")
        log.info("left voice in guild %s: %s", self.guild_id, reason)

    def refresh(self) -> None:
        """Ask for the now-playing message to be brought up to date (edits are spaced by `EDIT_INTERVAL`)."""
        self._dirty.set()
        if self._editor is None or self._editor.done():
            self._editor = asyncio.create_task(self._edit_loop(), name=f"encore-voice-message-{self.guild_id}")

    async def _edit_loop(self) -> None:
        while self._dirty.is_set() and self._end_reason is None:
            self._dirty.clear()
            picture = [discord.File(io.BytesIO(self.waveform), WAVEFORM_NAME)] if self.waveform else []
            try:
                if self.message is None:
                    self.message = await self.text_channel.send(embed=self._embed(), view=self._view(), files=picture)
                elif self._new_waveform:
                    await self.message.edit(embed=self._embed(), view=self._view(), attachments=picture)
                else:
                    await self.message.edit(embed=self._embed(), view=self._view())
                self._new_waveform = False
            except discord.HTTPException as error:
                log.warning("now-playing message in guild %s not updated: %s", self.guild_id, error)
            await asyncio.sleep(EDIT_INTERVAL)

    def _embed(self, *, ended: bool = False) -> discord.Embed:
        track = self.queue.current
        if ended or track is None:
            return discord.Embed(title="⏹️ Nothing playing", description=f"The session in <#{self.channel_id}> ended.")
        song = track.song
        embed = discord.Embed(
            title=render.shorten(("⏸️ " if self.paused else "🎶 ") + track.title, 256),
            url=render.suno_link(song.clip_id),
            colour=render.EMBED_COLOUR,
        )
        if self.paused:
            where = f"paused at {format_seconds(self.source.position if self.source else 0)}"
        else:
            where = f"ends <t:{math.ceil(time.time() + self.duration - (time.monotonic() - self.started_at))}:R>"
        embed.description = f"{format_seconds(self.duration)} · {where} · in <#{self.channel_id}>"
        if song.owner_id:
            embed.add_field(name="Made by", value=f"<@{song.owner_id}>")
        embed.add_field(name="Queued by", value=f"<@{track.requester_id}>")
        if self.queue.waiting:
            upcoming = self.queue.waiting[0].title
        elif self.radio is not None:
            upcoming = f"the radio ({RADIO_ORDERS[self.radio.order]})"
        else:
            upcoming = "nothing: the session ends after this song"
        more = f" (+{len(self.queue.waiting) - 1} more)" if len(self.queue.waiting) > 1 else ""
        embed.add_field(name="Next", value=render.shorten(upcoming, 200) + more, inline=False)
        if song.image_url and song.image_url.startswith(("https://", "http://")):
            embed.set_thumbnail(url=song.image_url)
        if self.waveform:
            embed.set_image(url=f"attachment://{WAVEFORM_NAME}")
        return embed

    def _view(self) -> discord.ui.View:
        return now_playing_view(paused=self.paused)

    def queue_text(self) -> str:
        lines = []
        if (current := self.queue.current) is not None:
            lines.append(f"▶️ **{discord.utils.escape_markdown(current.title)}** · <@{current.requester_id}>")
        for place, track in enumerate(list(self.queue.waiting)[:QUEUE_SHOWN], start=1):
            lines.append(f"{place}. {discord.utils.escape_markdown(track.title)} · <@{track.requester_id}>")
        if len(self.queue.waiting) > QUEUE_SHOWN:
            lines.append(f"…and {len(self.queue.waiting) - QUEUE_SHOWN} more")
        return "\n".join(lines) or "The queue is empty."
