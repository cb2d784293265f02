"""The fake gateway: HELLO, IDENTIFY → READY and GUILD_CREATE, RESUME, heartbeats, and event dispatch to sessions.

Like Discord's, it shards and filters: a guild's events go only to the session of the shard owning the guild
(`(guild_id >> 22) % shard_count`; events without a guild to shard 0), and only when the session asked for the
event's intent. IDENTIFYs of one `max_concurrency` bucket closer together than 5 s are recorded as violations.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque

from aiohttp import WSMsgType, web

from tests.fakes.discord.parts import FakeDiscordParts
from tests.fakes.discord.state import (
    GUILD_MEMBERS_INTENT,
    JSON,
    RequestRecord,
    _iso,
)

IDENTIFY_INTERVAL = 5.0
# Which intent a session needs to receive an event: (in a guild, in a DM); None = sent whatever the intents.
_GUILDS, _MESSAGES, _REACTIONS, _TYPING = 1 << 0, 1 << 9, 1 << 10, 1 << 11
_DM_MESSAGES, _DM_REACTIONS, _DM_TYPING = 1 << 12, 1 << 13, 1 << 14
_VOICE_STATES = 1 << 7
EVENT_INTENTS: dict[str, tuple[int, int]] = {
    "GUILD_CREATE": (_GUILDS, _GUILDS),
    "GUILD_UPDATE": (_GUILDS, _GUILDS),
    "GUILD_DELETE": (_GUILDS, _GUILDS),
    "GUILD_ROLE_CREATE": (_GUILDS, _GUILDS),
    "CHANNEL_CREATE": (_GUILDS, _GUILDS),
    "CHANNEL_UPDATE": (_GUILDS, _GUILDS),
    "CHANNEL_DELETE": (_GUILDS, _GUILDS),
    "MESSAGE_CREATE": (_MESSAGES, _DM_MESSAGES),
    "MESSAGE_UPDATE": (_MESSAGES, _DM_MESSAGES),
    "MESSAGE_DELETE": (_MESSAGES, _DM_MESSAGES),
    "MESSAGE_REACTION_ADD": (_REACTIONS, _DM_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (_REACTIONS, _DM_REACTIONS),
    "TYPING_START": (_TYPING, _DM_TYPING),
    "VOICE_STATE_UPDATE": (_VOICE_STATES, _VOICE_STATES),
}


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard that receives a guild's events; events without a guild go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def event_guild(event: str, data: JSON) -> int | None:
    """The guild an event belongs to, if any."""
    raw = data.get("id") if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else data.get("guild_id")
    return None if raw is None else int(raw)


class _GatewaySession:
    """A gateway session: outlives its socket (for RESUME) unless the client closed with 1000/1001."""

    def __init__(self, session_id: str, intents: int, shard: list[int] | None) -> None:
        self.id, self.intents, self.shard = session_id, intents, shard
        self.seq = 0
        self.backlog: deque[tuple[int, str]] = deque(maxlen=1000)
        self.ws: web.WebSocketResponse | None = None
        self.lock = asyncio.Lock()

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send an op-0 event with the next sequence number (kept for replay if the socket is gone)."""
        async with self.lock:
            self.seq += 1
            frame = json.dumps({"op": 0, "t": event, "s": self.seq, "d": data})
            self.backlog.append((self.seq, frame))
            if self.ws is not None and not self.ws.closed:
                try:
                    await self.ws.send_str(frame)
                except ConnectionResetError:
                    self.ws = None

    def wants(self, event: str, guild_id: int | None) -> bool:
        """Whether Discord would send this session the event: its shard owns the guild, and it has the intent."""
        if self.shard is not None and shard_of(guild_id, self.shard[1]) != self.shard[0]:
            return False
        needed = EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed[0 if guild_id is not None else 1])

    async def attach(self, ws: web.WebSocketResponse, lock: asyncio.Lock, after: int) -> None:
        """Bind a resuming socket and replay the events it missed."""
        self.ws, self.lock = ws, lock
        async with lock:
            for seq, frame in self.backlog:
                if seq > after:
                    await ws.send_str(frame)


class GatewayMixin(FakeDiscordParts):
    """The websocket endpoint of `FakeDiscord`."""

    def _guild_payload(self, guild_id: int | None = None) -> JSON:
        """A guild object; extra guilds (`add_guild`) share the main guild's members and roles."""
        guild_id = guild_id or self.guild_id
        roles = [role.payload() for role in self.roles.values()]
        roles[0] = {**roles[0], "id": str(guild_id)}  # the @everyone role has the guild's id
        return {
            "id": str(guild_id),
            "name": self.guild_names[guild_id],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(next(c.id for c in self.channels.values() if c.guild_id == guild_id)),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "max_members": 500_000,
            "max_video_channel_users": 25,
        }

    def _guild_create(self, intents: int, guild_id: int | None = None) -> JSON:
        """GUILD_CREATE; without the members intent Discord only sends the bot's own member (and, with the
        voice-states intent, the members in voice and their voice states)."""
        guild_id = guild_id or self.guild_id
        voice_states = self._guild_voice_states(guild_id) if intents & _VOICE_STATES else []
        in_voice = {int(state["user_id"]) for state in voice_states} | {self.bot_user.id}
        everyone = intents & GUILD_MEMBERS_INTENT
        members = [member for user_id, member in self.members.items() if everyone or user_id in in_voice]
        return {
            **self._guild_payload(guild_id),
            "unavailable": False,
            "joined_at": _iso(self.members[self.bot_user.id].joined_at),
            "large": False,
            "member_count": len(self.members),
            "members": [member.payload() for member in members],
            "channels": [c.payload() for c in self.channels.values() if c.guild_id == guild_id and not c.deleted],
            "threads": [],
            "presences": [],
            "voice_states": voice_states,
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    async def _dispatch(self, event: str, data: JSON) -> None:
        """Send a gateway event to the sessions Discord would send it to (those without a socket keep it for
        RESUME)."""
        guild_id = event_guild(event, data)
        for session in list(self._sessions.values()):
            if session.wants(event, guild_id):
                await session.dispatch(event, data)
                self.dispatched[event] = self.dispatched.get(event, 0) + 1

    def _guilds_of(self, shard: list[int] | None) -> list[int]:
        return [guild for guild in self.guild_names if shard is None or shard_of(guild, shard[1]) == shard[0]]

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """One gateway connection: HELLO, then IDENTIFY/RESUME, heartbeats and presence updates."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        lock = asyncio.Lock()
        session: _GatewaySession | None = None
        try:
            await ws.send_str(
                json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
            )
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                op, data = message.get("op"), message.get("d")
                if op == 1:
                    async with lock:
                        await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    session = await self._identify(ws, lock, data)
                elif op == 6:
                    session = await self._resume(ws, lock, data)
                elif op == 3:
                    self.presence = data
                elif op == 4 and session is not None:
                    await self._update_voice_state(session, data)
                else:
                    self.unhandled.append(RequestRecord("GATEWAY", f"op {op}", {}, data, [], time.perf_counter()))
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                if ws.close_code in (1000, 1001):
                    self._sessions.pop(session.id, None)
            if not self.connected:
                self.ready.clear()
            await self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, lock: asyncio.Lock, data: JSON) -> _GatewaySession | None:
        """READY (guild unavailable) then GUILD_CREATE; close 4004 on a wrong token."""
        if self.token is not None and data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard = data.get("shard")
        if shard is not None and not (0 <= shard[0] < shard[1]):
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        self._check_identify_pace(shard)
        session = _GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)), shard)
        session.ws, session.lock = ws, lock
        ready: JSON = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(guild), "unavailable": True} for guild in self._guilds_of(shard)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await session.dispatch("READY", ready)
        for guild in self._guilds_of(shard):
            await session.dispatch("GUILD_CREATE", self._guild_create(session.intents, guild))
        self._sessions[session.id] = session
        self.identify_count += 1
        self.ready.set()
        await self._notify()
        return session

    def _check_identify_pace(self, shard: list[int] | None) -> None:
        """Record the IDENTIFY; two of one bucket (shard id % max_concurrency) within 5 s break Discord's limit."""
        now = time.monotonic()
        bucket = (shard[0] if shard else 0) % self.max_concurrency
        last = self._last_identify.get(bucket)
        if last is not None and now - last < IDENTIFY_INTERVAL:
            self.identify_violations.append((bucket, now - last))
        self._last_identify[bucket] = now
        self.identified_shards.append(None if shard is None else (shard[0], shard[1]))

    async def _resume(self, ws: web.WebSocketResponse, lock: asyncio.Lock, data: JSON) -> _GatewaySession | None:
        """Replay missed events then RESUMED; op 9 (not resumable) for an unknown or live session."""
        session = self._sessions.get(data.get("session_id", ""))
        if session is None or session.ws is not None or (self.token is not None and data.get("token") != self.token):
            async with lock:
                await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return None
        await session.attach(ws, lock, int(data.get("seq") or 0))
        await session.dispatch("RESUMED", {})
        self.resume_count += 1
        self.ready.set()
        await self._notify()
        return session
