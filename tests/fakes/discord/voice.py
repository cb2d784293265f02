"""Voice in the fake Discord: voice and stage channels, members' voice states, and the bot's op 4 answered with
VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE pointing at a `FakeVoiceServer`.

As Discord does, a join the bot may not make (no CONNECT in the channel) gets no answer at all, and a leave
(`channel_id: null`) is confirmed with a VOICE_STATE_UPDATE whose channel is null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.discord.parts import FakeDiscordParts
from tests.fakes.discord.state import JSON, ApiError, FakeChannel, _permission_bits

if TYPE_CHECKING:
    from tests.fakes.discord.gateway import _GatewaySession

VOICE_STATES_INTENT = 1 << 7
VOICE_CHANNEL, STAGE_CHANNEL = 2, 13
CONNECT = _permission_bits(["connect"])
MUTE_MEMBERS = _permission_bits(["mute_members"])


class VoiceMixin(FakeDiscordParts):
    """The voice side of `FakeDiscord`; `voice_states` maps (guild, user) to (channel, voice session id)."""

    async def add_voice_channel(self, name: str, *, guild_id: int | None = None, stage: bool = False) -> int:
        """Create a voice (or stage) channel in a guild (CHANNEL_CREATE) and return its id."""
        guild = guild_id or self.guild_id
        kind = STAGE_CHANNEL if stage else VOICE_CHANNEL
        channel = FakeChannel(self.snowflakes.next(), name, guild, position=len(self.channels), kind=kind)
        self.channels[channel.id] = channel
        await self._dispatch("CHANNEL_CREATE", channel.payload())
        return channel.id

    async def join_voice(self, user_id: int, channel_id: int | None, *, guild_id: int | None = None) -> None:
        """A member joins (moves to) a voice channel, or leaves voice with None: VOICE_STATE_UPDATE."""
        guild = self.channels[channel_id].guild_id if channel_id is not None else guild_id or self.guild_id
        assert guild is not None
        await self._set_voice_state(guild, user_id, channel_id, f"member-{user_id}")

    def voice_channel_of(self, user_id: int, guild_id: int | None = None) -> int | None:
        state = self.voice_states.get((guild_id or self.guild_id, user_id))
        return None if state is None else state[0]

    def _voice_state(self, guild_id: int, user_id: int, channel_id: int | None, session_id: str) -> JSON:
        return {
            "guild_id": str(guild_id),
            "channel_id": None if channel_id is None else str(channel_id),
            "user_id": str(user_id),
            "member": self.members[user_id].payload(),
            "session_id": session_id,
            "deaf": False,
            "mute": False,
            "self_deaf": False,
            "self_mute": False,
            "self_stream": False,
            "self_video": False,
            "suppress": (guild_id, user_id) in self.suppressed,
            "request_to_speak_timestamp": None,
        }

    def _guild_voice_states(self, guild_id: int) -> list[JSON]:
        """GUILD_CREATE's `voice_states` (without `guild_id` or `member`, as Discord sends them)."""
        states = []
        for (guild, user_id), (channel_id, session_id) in self.voice_states.items():
            if guild == guild_id:
                state = self._voice_state(guild, user_id, channel_id, session_id)
                del state["guild_id"], state["member"]
                states.append(state)
        return states

    async def _set_voice_state(self, guild_id: int, user_id: int, channel_id: int | None, session_id: str) -> None:
        """Record and dispatch a voice state; joining a stage channel makes one a suppressed listener, as Discord."""
        self.suppressed.discard((guild_id, user_id))
        if channel_id is None:
            self.voice_states.pop((guild_id, user_id), None)
        else:
            self.voice_states[(guild_id, user_id)] = (channel_id, session_id)
            if self.channels[channel_id].kind == STAGE_CHANNEL:
                self.suppressed.add((guild_id, user_id))
        await self._dispatch("VOICE_STATE_UPDATE", self._voice_state(guild_id, user_id, channel_id, session_id))
        await self._notify()

    async def _update_voice_state(self, session: _GatewaySession, data: JSON) -> None:
        """The bot's op 4: join, move or leave, answered as Discord does (nothing for a join it refuses)."""
        guild_id, raw_channel = int(data["guild_id"]), data.get("channel_id")
        self.voice_updates.append(data)
        bot_id = self.bot_user.id
        if raw_channel is None:
            await self._set_voice_state(guild_id, bot_id, None, session.id)
            return
        channel = self.channels.get(int(raw_channel))
        if (
            channel is None
            or channel.guild_id != guild_id
            or channel.kind not in (VOICE_CHANNEL, STAGE_CHANNEL)
            or not self.permissions_for(bot_id, channel.id) & CONNECT
        ):
            self.refused_joins.append(data)
            await self._notify()
            return
        await self._set_voice_state(guild_id, bot_id, channel.id, session.id)
        if self.voice is None:
            raise RuntimeError("the bot joined voice but this FakeDiscord has no voice server (FakeDiscord(voice=...))")
        token = self.voice.expect(guild_id, bot_id, session.id, channel.id)
        server = {"token": token, "guild_id": str(guild_id), "endpoint": self.voice.endpoint}
        await self._dispatch("VOICE_SERVER_UPDATE", server)

    async def _edit_my_voice_state(self, request: web.Request) -> web.Response:
        """PATCH /guilds/{guild}/voice-states/@me: a stage speaker; unsuppressing oneself needs MUTE_MEMBERS there."""
        guild_id, bot_id = self._int(request, "guild"), self.bot_user.id
        body = self._body(request).json or {}
        state = self.voice_states.get((guild_id, bot_id))
        if state is None or str(body.get("channel_id")) != str(state[0]):
            raise ApiError(400, 50035, "Invalid Form Body")
        channel = self.channels[state[0]]
        if channel.kind != STAGE_CHANNEL:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if body.get("suppress") is False and not self.permissions_for(bot_id, channel.id) & MUTE_MEMBERS:
            raise ApiError(403, 50013, "Missing Permissions")
        if "suppress" in body:
            if body["suppress"]:
                self.suppressed.add((guild_id, bot_id))
            else:
                self.suppressed.discard((guild_id, bot_id))
            await self._dispatch("VOICE_STATE_UPDATE", self._voice_state(guild_id, bot_id, channel.id, state[1]))
            await self._notify()
        return web.Response(status=204)
