"""The fake gateway: HELLO, IDENTIFY → READY and GUILD_CREATE, RESUME, heartbeats, and event dispatch to sessions."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque

from aiohttp import WSMsgType, web

from tests.fakes.discord.state import (
    GUILD_MEMBERS_INTENT,
    JSON,
    RequestRecord,
    _iso,
)


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

    async def attach(self, ws: web.WebSocketResponse, lock: asyncio.Lock, after: int) -> None:
        """Bind a resuming socket and replay the events it missed."""
        self.ws, self.lock = ws, lock
        async with lock:
            for seq, frame in self.backlog:
                if seq > after:
                    await ws.send_str(frame)


class GatewayMixin:
    """The websocket endpoint of `FakeDiscord`."""

    def _guild_payload(self) -> JSON:
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
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
            "roles": [role.payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.channel_id),
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

    def _guild_create(self, intents: int) -> JSON:
        """GUILD_CREATE; without the members intent Discord only sends the bot's own member."""
        members = self.members.values() if intents & GUILD_MEMBERS_INTENT else [self.members[self.bot_user.id]]
        return {
            **self._guild_payload(),
            "unavailable": False,
            "joined_at": _iso(self.members[self.bot_user.id].joined_at),
            "large": False,
            "member_count": len(self.members),
            "members": [member.payload() for member in members],
            "channels": [c.payload() for c in self.channels.values() if c.guild_id is not None and not c.deleted],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    async def _dispatch(self, event: str, data: JSON) -> None:
        """Send a gateway event to every session (sessions without a socket keep it for RESUME)."""
        for session in list(self._sessions.values()):
            await session.dispatch(event, data)

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
        session = _GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)), data.get("shard"))
        session.ws, session.lock = ws, lock
        ready: JSON = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
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
        await session.dispatch("GUILD_CREATE", self._guild_create(session.intents))
        self._sessions[session.id] = session
        self.identify_count += 1
        self.ready.set()
        await self._notify()
        return session

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
