"""Playing in voice channels: one player per server, sending each song's cached Opus packets as they are.

discord.py's player thread calls `read()` every 20 ms; `OpusPacketSource` only hands over the next packet from
memory (`is_opus()` is True, so discord.py loads no encoder and sends the bytes unchanged). Its `after` callback
runs in that thread, so it only wakes the event loop. The now-playing message shows where the song ends as a
Discord timestamp (no edit per second) and is edited when the queue moves, at most once per `EDIT_INTERVAL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import discord

from bot.audio.opus import FRAME_SECONDS, OpusSong
from bot.config import VoiceLimits
from bot.domain.errors import Refusal
from bot.domain.records import ListenSessionRecord, SavedTrack
from bot.domain.validation import format_seconds
from bot.service.community import PERIODS
from bot.service.listen import RADIO_ORDERS, ListenQueue, ListenRefused, Radio, SongAudio, Track
from bot.store import StoreUnavailable
from bot.ui import render
from bot.ui.client import EncoreClient

log = logging.getLogger("bot.voice")

EDIT_INTERVAL = 2.0
"""Seconds between two edits of a now-playing message (Discord allows about 5 per 5 s per channel)."""
CONNECT_TIMEOUT = 15.0
"""Discord answers a join within a second or two; one it refuses gets no answer at all."""
QUEUE_SHOWN = 10
WAVEFORM_NAME = "waveform.png"
RADIO_BATCH = 5
"""Songs the radio adds each time the queue runs dry."""


class OpusPacketSource(discord.AudioSource):
    """A song's cached Opus packets, one per `read()`, from memory."""

    def __init__(self, song: OpusSong, start: float = 0.0) -> None:
        self._packets = song.packets
        self.sent = min(len(song.packets), max(0, int(start / FRAME_SECONDS)))  # a resumed song goes on from there

    def read(self) -> bytes:
        if self.sent >= len(self._packets):
            return b""
        packet = self._packets[self.sent]
        self.sent += 1
        return packet

    def is_opus(self) -> bool:
        return True

    @property
    def position(self) -> float:
        return self.sent * FRAME_SECONDS


def listeners(channel: discord.VoiceChannel | discord.StageChannel) -> list[int]:
    """Ids of the people (not bots) in a voice channel, from the voice states Discord sent."""
    people = []
    for user_id in channel.voice_states:
        member = channel.guild.get_member(user_id)
        if member is None or not member.bot:
            people.append(user_id)
    return people


def is_manager(interaction: discord.Interaction[Any]) -> bool:
    return interaction.guild_id is not None and interaction.permissions.manage_guild


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
        channel = self.voice.channel
        alone = not listeners(channel)
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
        view = discord.ui.View(timeout=None)
        for action in ("skip", "pause", "stop", "queue"):
            view.add_item(ListenButton(action, paused=self.paused))
        return view

    def queue_text(self) -> str:
        lines = []
        if (current := self.queue.current) is not None:
            lines.append(f"▶️ **{discord.utils.escape_markdown(current.title)}** · <@{current.requester_id}>")
        for place, track in enumerate(list(self.queue.waiting)[:QUEUE_SHOWN], start=1):
            lines.append(f"{place}. {discord.utils.escape_markdown(track.title)} · <@{track.requester_id}>")
        if len(self.queue.waiting) > QUEUE_SHOWN:
            lines.append(f"…and {len(self.queue.waiting) - QUEUE_SHOWN} more")
        return "\n".join(lines) or "The queue is empty."


@dataclass(frozen=True, slots=True)
class ListenRequest:
    """What `/listen` was asked to play: one song (or its chain's whole song), a member's songs, or `/top`'s."""

    song: str | None = None
    whole: bool = False
    member: int | None = None
    top: str | None = None
    radio: str | None = None  # "newest" or "starred"


class VoicePlayers:
    """Every voice session of this process: at most one per server, at most `limits.max_sessions` in all."""

    def __init__(self, client: EncoreClient, audio: SongAudio, limits: VoiceLimits) -> None:
        self.client = client
        self.audio = audio
        self.limits = limits
        self.players: dict[int, GuildPlayer] = {}
        self._joining: dict[int, asyncio.Lock] = {}
        self._resumed = False

    def forget(self, player: GuildPlayer) -> None:
        if self.players.get(player.guild_id) is player:
            del self.players[player.guild_id]

    async def listen(self, interaction: discord.Interaction[EncoreClient], request: ListenRequest) -> None:
        """`/listen`: check at once what can be checked, then defer, find and prepare the songs, join or queue."""
        channel = self._voice_channel_of(interaction)
        if isinstance(channel, str):
            await interaction.response.send_message(f"⚠️ {channel}", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            text = await self._play(interaction, channel, request)
        except Refusal as refusal:
            text = f"⚠️ {render.refusal_text(refusal)}"
        await interaction.edit_original_response(content=text)

    def _voice_channel_of(
        self, interaction: discord.Interaction[EncoreClient]
    ) -> discord.VoiceChannel | discord.StageChannel | str:
        """The member's voice channel if Encore may play there; else why not (for the member)."""
        guild, member = interaction.guild, interaction.user
        if guild is None or not isinstance(member, discord.Member):
            return "`/listen` works in a server's voice channels."
        state = member.voice
        if state is None or state.channel is None:
            return "Join a voice channel first, then use `/listen` again."
        channel = state.channel
        player = self.players.get(guild.id)
        if player is not None and player.channel_id != channel.id:
            return f"Encore is playing in <#{player.channel_id}>: join that channel to add songs to its queue."
        if player is None and not self.limits.max_sessions:
            return "Playing in voice channels is turned off on this bot (`VOICE_MAX_SESSIONS=0`)."
        if player is None:
            allowed = channel.permissions_for(guild.me)
            missing = [name for name, ok in (("Connect", allowed.connect), ("Speak", allowed.speak)) if not ok]
            if missing:
                verbs = " or ".join(name.lower() for name in missing)
                plural = "s" if len(missing) > 1 else ""
                return (
                    f"Encore may not {verbs} in <#{channel.id}>. A server manager can give its role the "
                    f"{' and '.join(missing)} permission{plural} there."
                )
            if (playing := len(self.players)) >= self.limits.max_sessions:
                return (
                    f"Encore is already playing in {playing} voice channel{'s' if playing != 1 else ''}, as many as "
                    "this bot runs at once. Try again when one of them ends."
                )
        return channel

    async def _tracks(self, request: ListenRequest, guild_id: int, user_id: int) -> tuple[list[Track], str]:
        """The songs a request means, and how to name them in the reply."""
        room = self.limits.queue_size + 1
        if request.song is not None:
            song = await self.audio.song(request.song, guild_id=guild_id, whole=request.whole)
            track = Track(song, user_id, whole=request.whole)
            return [track], f"**{discord.utils.escape_markdown(track.title)}**"
        if request.radio is not None:
            return [], f"the radio ({RADIO_ORDERS[request.radio]})"
        if request.member is not None:
            songs = await self.audio.member_songs(guild_id, request.member, room)
            if not songs:
                raise ListenRefused(f"<@{request.member}> has no song Encore can play on this server yet.")
            return [Track(song, user_id) for song in songs], f"{len(songs)} of <@{request.member}>'s songs"
        period = request.top or "week"
        songs = await self.audio.top_songs(guild_id, period, room)
        if not songs:
            raise ListenRefused(f"No song has a ⭐ {PERIODS[period][0]} yet.")
        return [Track(song, user_id) for song in songs], f"the {len(songs)} most starred songs {PERIODS[period][0]}"

    async def _play(
        self,
        interaction: discord.Interaction[EncoreClient],
        channel: discord.VoiceChannel | discord.StageChannel,
        request: ListenRequest,
    ) -> str:
        guild_id = channel.guild.id
        tracks, named = await self._tracks(request, guild_id, interaction.user.id)
        radio = None
        if request.radio is not None:
            radio = Radio(self.audio, guild_id, request.radio, interaction.user.id)
            tracks = await radio.more(RADIO_BATCH)
            if not tracks:
                raise ListenRefused("This server has no song yet: make one with `/generate`.")
        await self.audio.prepare(tracks[0])  # a song that cannot play is refused to the member, not later
        async with self._joining.setdefault(guild_id, asyncio.Lock()):
            player = self.players.get(guild_id)
            if player is not None:
                if player.channel_id != channel.id:
                    raise ListenRefused(f"Encore is playing in <#{player.channel_id}>: join that channel to add songs.")
                if radio is not None:
                    radio.offset = 0  # from the top, once the queue has played
                    player.radio = radio
                    player.refresh()
                    return f"📻 {named[0].upper()}{named[1:]} takes over when the queue ends."
                places = [player.queue.add(track) for track in tracks[: max(1, player.queue.room)]]
                player.refresh()
                await self.save(player)
                if len(tracks) == 1:
                    return f"📋 Queued {named}: number {places[0]} in the queue."
                cut = f" (the queue is full: {len(tracks) - len(places)} left out)" if len(places) < len(tracks) else ""
                return f"📋 Queued {named}: numbers {places[0]} to {places[-1]} in the queue{cut}."
            if len(self.players) >= self.limits.max_sessions:
                raise ListenRefused("Encore is already playing in as many voice channels as it runs at once.")
            queue = ListenQueue(self.limits.queue_size)
            queue.waiting.extend(tracks[: self.limits.queue_size + 1])  # the first plays at once
            voice = await self._connect(channel)
            text_channel = interaction.channel
            assert isinstance(text_channel, discord.abc.Messageable)
            player = GuildPlayer(self, voice, text_channel, interaction.user.id, queue)
            player.radio = radio
            self.players[guild_id] = player
            player.company_changed()
        return f"▶️ Playing {named} in <#{channel.id}>."

    async def _connect(self, channel: discord.VoiceChannel | discord.StageChannel) -> discord.VoiceClient:
        existing = channel.guild.voice_client
        if isinstance(existing, discord.VoiceClient):  # left over (a session that ended badly): start clean
            await existing.disconnect(force=True)
        try:
            voice = await channel.connect(
                timeout=CONNECT_TIMEOUT, reconnect=True, self_deaf=True, cls=discord.VoiceClient
            )
        except (TimeoutError, discord.ClientException) as error:
            log.warning("could not join voice channel %s: %r", channel.id, error)
            raise ListenRefused(f"Discord did not let Encore join <#{channel.id}>; try again in a moment.") from None
        if isinstance(channel, discord.StageChannel):
            try:
                await channel.guild.me.edit(suppress=False)
            except discord.HTTPException:
                await voice.disconnect()
                raise ListenRefused(
                    f"Encore joined the stage <#{channel.id}> but may not speak there: a stage moderator can invite "
                    "it to speak, or give it the Mute Members permission."
                ) from None
        return voice

    async def voice_state_changed(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Someone joined, left or moved; for Encore itself, a disconnect or move ends the session."""
        player = self.players.get(member.guild.id)
        if player is None:
            return
        if self.client.user is not None and member.id == self.client.user.id:
            if after.channel is None:
                player.end("Encore was disconnected from the voice channel")
            elif after.channel.id != player.channel_id:
                player.end("Encore was moved to another channel")
            return
        if player.channel_id in {getattr(before.channel, "id", None), getattr(after.channel, "id", None)}:
            player.company_changed()

    async def close(self) -> None:
        """Leave every channel (on shutdown), saving each queue and how far its song got, for the next start."""
        players = list(self.players.values())
        for player in players:
            player.restarting = True
            await self.save(player)
            player.end("Encore is restarting; it picks the queue up when it is back")
        await asyncio.gather(*(player.task for player in players), return_exceptions=True)

    async def save(self, player: GuildPlayer) -> None:
        """Keep the session's queue (the playing song first, and how far it got) in the store."""
        tracks = [track for track in (player.queue.current, *player.queue.waiting) if track is not None]
        saved = ListenSessionRecord(
            guild_id=player.guild_id,
            voice_channel_id=player.channel_id,
            text_channel_id=player.text_channel_id,
            starter_id=player.starter_id,
            tracks=tuple(SavedTrack(t.song.clip_id, t.requester_id, t.whole) for t in tracks),
            position=player.source.position if player.source is not None else 0.0,
        )
        try:
            await self.audio.store.save_listen_session(saved)
        except StoreUnavailable as error:
            log.warning("the queue of guild %s was not saved: %s", player.guild_id, error)

    async def unsave(self, guild_id: int) -> None:
        try:
            await self.audio.store.delete_listen_session(guild_id)
        except StoreUnavailable as error:
            log.warning("the ended queue of guild %s was not deleted: %s", guild_id, error)

    async def resume_saved(self) -> None:
        """After a start: take up the saved sessions of this process's servers, or say in each why not."""
        if self._resumed:
            return
        self._resumed = True
        for saved in await self.audio.store.listen_sessions():
            guild = self.client.get_guild(saved.guild_id)
            if guild is None:
                continue  # another process's shard, or a server Encore left: not this process's to end
            if saved.guild_id in self.players:
                continue  # a session started since this process came up (`on_ready` waits for every server)
            try:
                await self._resume(guild, saved)
            except Exception:
                log.exception("the saved queue of guild %s could not be resumed", saved.guild_id)
                await self.unsave(saved.guild_id)

    async def _resume(self, guild: discord.Guild, saved: ListenSessionRecord) -> None:
        text_channel = self.client.get_partial_messageable(saved.text_channel_id, guild_id=guild.id)
        channel = guild.get_channel(saved.voice_channel_id)
        tracks = []
        for item in saved.tracks:
            song = await self.audio.store.get_song(item.clip_id)
            if song is not None:
                tracks.append(Track(song, item.requester_id, item.whole))
        problem = None
        if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            problem = "its voice channel is gone"
        elif not listeners(channel):
            problem = f"nobody is in <#{channel.id}> any more"
        elif not (allowed := channel.permissions_for(guild.me)).connect or not allowed.speak:
            problem = f"Encore may no longer connect and speak in <#{channel.id}>"
        elif not tracks:
            problem = "none of its songs can be found any more"
        elif len(self.players) >= self.limits.max_sessions:
            problem = "this bot already plays in as many voice channels as it runs at once"
        if problem is not None or not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            await self.unsave(guild.id)
            with contextlib.suppress(discord.HTTPException):
                await text_channel.send(f"⚠️ Encore restarted and cannot pick up the queue: {problem}.")
            return
        queue = ListenQueue(self.limits.queue_size)
        queue.waiting.extend(tracks)
        async with self._joining.setdefault(guild.id, asyncio.Lock()):
            voice = await self._connect(channel)
            player = GuildPlayer(self, voice, text_channel, saved.starter_id, queue, resume_at=saved.position)
            self.players[guild.id] = player
            player.company_changed()
        with contextlib.suppress(discord.HTTPException):
            await text_channel.send(f"🔁 Encore restarted: the queue in <#{channel.id}> goes on where it was.")


class ListenButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"encore:listen:(?P<action>skip|pause|stop|queue)",
):
    """The now-playing message's buttons; the server's player is found from the interaction, so a button pressed
    after the session ended says so instead of failing."""

    LABELS: ClassVar[dict[str, tuple[str, str]]] = {
        "skip": ("Skip", "⏭️"),
        "pause": ("Pause", "⏸️"),
        "stop": ("Stop", "⏹️"),
        "queue": ("Queue", "📋"),
    }

    def __init__(self, action: str, *, paused: bool = False) -> None:
        label, emoji = ("Resume", "▶️") if action == "pause" and paused else self.LABELS[action]
        style = discord.ButtonStyle.danger if action == "stop" else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"encore:listen:{action}"))
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ListenButton:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: EncoreClient = interaction.client
        players: VoicePlayers | None = getattr(client, "voice_players", None)
        player = None if players is None or interaction.guild_id is None else players.players.get(interaction.guild_id)
        if player is None:
            await interaction.response.send_message("Nothing is playing on this server now.", ephemeral=True)
            return
        await interaction.response.send_message(self._act(player, interaction), ephemeral=True)

    def _act(self, player: GuildPlayer, interaction: discord.Interaction[Any]) -> str:
        user_id = interaction.user.id
        current = player.queue.current
        if self.action == "queue":
            return player.queue_text()
        if self.action == "pause":
            return "⏸️ Paused." if player.toggle_pause() else "▶️ Resumed."
        if self.action == "stop":
            if user_id != player.starter_id and not is_manager(interaction):
                return "⚠️ Only the member who started this session, or a server manager, can stop it."
            player.end(f"<@{user_id}> stopped the session")
            return "⏹️ Stopped."
        if current is None:
            return "Nothing is playing."
        if user_id == current.requester_id or is_manager(interaction):
            player.skip()
            return "⏭️ Skipped."
        people = listeners(player.voice.channel)
        if user_id not in people:
            return "⚠️ Join the voice channel to vote to skip."
        player.skip_votes.add(user_id)
        needed = math.ceil(len(people) / 2)
        if len(player.skip_votes & set(people)) >= needed:
            player.skip()
            return "⏭️ Skipped by vote."
        return f"🗳️ Your vote to skip is in: {len(player.skip_votes)} of {needed} needed."


class ListenWholeButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:listen-whole:(?P<clip>[0-9a-f-]{36})"
):
    """Listen, on a whole song's post: `/listen song:<clip> whole:True` for whoever presses it."""

    def __init__(self, clip_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Listen",
                emoji="🎧",
                style=discord.ButtonStyle.secondary,
                custom_id=f"encore:listen-whole:{clip_id}",
            )
        )
        self.clip_id = clip_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ListenWholeButton:
        return cls(match["clip"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: EncoreClient = interaction.client
        await client.voice_players.listen(interaction, ListenRequest(song=self.clip_id, whole=True))
