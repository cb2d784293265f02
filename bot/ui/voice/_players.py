"""Every voice session of this process: `/listen` checked and answered, at most one session per server and
`VoiceLimits.max_sessions` in all, each queue saved for a restart and taken up again after it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from bot.config import VoiceLimits
from bot.domain.errors import Refusal
from bot.domain.records import ListenSessionRecord, SavedTrack
from bot.service.community import PERIODS
from bot.service.listen import RADIO_ORDERS, ListenQueue, ListenRefused, Radio, SongAudio, Track
from bot.ui import render
from bot.ui.client import EncoreClient, answer
from bot.ui.voice._player import RADIO_BATCH, GuildPlayer, listeners
from bot.ui.voice._request import ListenRequest

log = logging.getLogger("bot.voice")

CONNECT_TIMEOUT = 15.0
"""Discord answers a join within a second or two; one it refuses gets no answer at all."""


class VoicePlayers:
    """Every voice session of this process: at most one per server, at most `limits.max_sessions` in all."""

    def __init__(self, client: EncoreClient, audio: SongAudio, limits: VoiceLimits) -> None:
        self.client = client
        self.audio = audio
        self.limits = limits
        self.players: dict[int, GuildPlayer] = {}
        self._sessions: set[int] = set()
        """Servers holding one of the `max_sessions` slots: playing, or joining (which takes up to
        `CONNECT_TIMEOUT`), so `/listen` in many servers at once cannot run more sessions than allowed."""
        self._joining: dict[int, asyncio.Lock] = {}
        self._resumed = False

    def forget(self, player: GuildPlayer) -> None:
        if self.players.get(player.guild_id) is player:
            del self.players[player.guild_id]
            self._sessions.discard(player.guild_id)

    def _reserve(self, guild_id: int) -> bool:
        """Take a session slot for a server about to join (checked and taken at once); False when none is free."""
        if guild_id not in self._sessions and len(self._sessions) >= self.limits.max_sessions:
            return False
        self._sessions.add(guild_id)
        return True

    async def _start(
        self,
        channel: discord.VoiceChannel | discord.StageChannel,
        text_channel: discord.abc.Messageable,
        starter_id: int,
        queue: ListenQueue,
        *,
        resume_at: float = 0.0,
    ) -> GuildPlayer:
        """Join with a slot reserved by `_reserve` and start the session; the slot is given back if joining fails."""
        guild_id = channel.guild.id
        try:
            voice = await self._connect(channel)
        except BaseException:
            self._sessions.discard(guild_id)
            raise
        player = GuildPlayer(self, voice, text_channel, starter_id, queue, resume_at=resume_at)
        self.players[guild_id] = player
        player.company_changed()
        return player

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
        await answer(interaction, text)

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
            if (playing := len(self._sessions)) >= self.limits.max_sessions:
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
            text_channel = interaction.channel
            assert isinstance(text_channel, discord.abc.Messageable)
            if not self._reserve(guild_id):
                raise ListenRefused("Encore is already playing in as many voice channels as it runs at once.")
            queue = ListenQueue(self.limits.queue_size)
            queue.waiting.extend(tracks[: self.limits.queue_size + 1])  # the first plays at once
            player = await self._start(channel, text_channel, interaction.user.id, queue)
            player.radio = radio
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
            player.hold()
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
        await self.audio.save_session(saved)

    async def unsave(self, guild_id: int) -> None:
        await self.audio.forget_session(guild_id)

    async def resume_saved(self) -> None:
        """After a start: take up the saved sessions of this process's servers, or say in each why not."""
        if self._resumed:
            return
        self._resumed = True
        for saved in await self.audio.saved_sessions():
            guild = self.client.get_guild(saved.guild_id)
            if guild is None:
                continue  # another process's shard, or a server Encore left: not this process's to end
            if saved.guild_id in self._sessions:
                continue  # a session started or starting since this process came up (`on_ready` waits)
            try:
                await self._resume(guild, saved)
            except Exception:
                log.exception("the saved queue of guild %s could not be resumed", saved.guild_id)
                await self.unsave(saved.guild_id)

    async def _resume(self, guild: discord.Guild, saved: ListenSessionRecord) -> None:
        text_channel = self.client.get_partial_messageable(saved.text_channel_id, guild_id=guild.id)
        channel = guild.get_channel(saved.voice_channel_id)
        tracks = await self.audio.saved_tracks(saved)
        problem = None
        if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            problem = "its voice channel is gone"
        elif not listeners(channel):
            problem = f"nobody is in <#{channel.id}> any more"
        elif not (allowed := channel.permissions_for(guild.me)).connect or not allowed.speak:
            problem = f"Encore may no longer connect and speak in <#{channel.id}>"
        elif not tracks:
            problem = "none of its songs can be found any more"
        elif not self._reserve(guild.id):
            problem = "this bot already plays in as many voice channels as it runs at once"
        if problem is not None or not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            await self.unsave(guild.id)
            with contextlib.suppress(discord.HTTPException):
                await text_channel.send(f"⚠️ Encore restarted and cannot pick up the queue: {problem}.")
            return
        queue = ListenQueue(self.limits.queue_size)
        queue.waiting.extend(tracks)
        async with self._joining.setdefault(guild.id, asyncio.Lock()):
            await self._start(channel, text_channel, saved.starter_id, queue, resume_at=saved.position)
        with contextlib.suppress(discord.HTTPException):
            await text_channel.send(f"🔁 Encore restarted: the queue in <#{channel.id}> goes on where it was.")
