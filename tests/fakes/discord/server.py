"""The fake Discord itself: one bot, one guild, its state, and the waits tests use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self, cast

import discord
from aiohttp import web

from tests.fakes.discord.driver import DriverMixin
from tests.fakes.discord.gateway import GatewayMixin, _GatewaySession
from tests.fakes.discord.interactions import InteractionsMixin
from tests.fakes.discord.rest import RestMixin
from tests.fakes.discord.state import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    API_PREFIX,
    BOT_ID,
    CHANNEL_ID,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_LIMIT,
    DEFAULT_USERS,
    GUILD_ID,
    JSON,
    OWNER_ID,
    VIEW_CHANNEL,
    FakeChannel,
    FakeMember,
    FakeRole,
    FakeUser,
    InteractionRecord,
    RequestRecord,
    SnowflakeGenerator,
    StoredAttachment,
    StoredMessage,
    T,
    _Injection,
    _permission_bits,
)
from tests.fakes.discord.voice import VoiceMixin
from tests.fakes.voice.server import FakeVoiceServer


class FakeDiscord(DriverMixin, RestMixin, InteractionsMixin, GatewayMixin, VoiceMixin):
    """An in-memory Discord for one bot and one guild; see the package docstring."""

    def __init__(
        self,
        *,
        bot_id: int = BOT_ID,
        application_id: int | None = None,
        bot_name: str = "Encore",
        guild_id: int = GUILD_ID,
        guild_name: str = "Encore Test Guild",
        channel_id: int = CHANNEL_ID,
        channel_name: str = "general",
        users: Mapping[int, str] = DEFAULT_USERS,
        owner_id: int = OWNER_ID,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        premium_tier: int = 0,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        interaction_deadline: float = 3.0,
        interaction_token_lifetime: float = 15 * 60.0,
        nonce_window: float = 5 * 60.0,
        heartbeat_interval_ms: int = 41_250,
        token: str | None = None,
        port: int = 0,
        shard_count: int = 1,
        max_concurrency: int = 1,
        voice: FakeVoiceServer | None = None,
    ) -> None:
        """Build the model; ``token`` (if given) is required in Authorization headers and IDENTIFY; ``port`` 0 is
        any free port (a fixed one lets a test start the fake where a bot is already trying to connect).

        ``shard_count`` is what ``GET /gateway/bot`` recommends, with ``max_concurrency`` IDENTIFY buckets;
        ``voice`` is the voice server a join is pointed at."""
        self.bot_user = FakeUser(bot_id, bot_name, bot=True)
        self.application_id = application_id or bot_id
        self.guild_id, self.guild_name, self.owner_id = guild_id, guild_name, owner_id
        self.guild_names: dict[int, str] = {guild_id: guild_name}  # the main guild, then those of `add_guild`
        self.shard_count, self.max_concurrency = shard_count, max_concurrency
        self.channel_id = channel_id
        self.premium_tier = premium_tier
        self.upload_limit = upload_limit
        self.interaction_deadline = interaction_deadline
        self.interaction_token_lifetime = interaction_token_lifetime
        self.nonce_window = nonce_window
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.token = token
        self.port = port

        self.snowflakes = SnowflakeGenerator()
        bot_role = FakeRole(self.snowflakes.next(), bot_name, bot_permissions, position=1, bot_id=bot_id)
        self.roles: dict[int, FakeRole] = {guild_id: FakeRole(guild_id, "@everyone", everyone_permissions)}
        self.roles[bot_role.id] = bot_role
        self.members: dict[int, FakeMember] = {bot_id: FakeMember(self.bot_user, [bot_role.id])}
        for user_id, name in {owner_id: "owner", **users}.items():
            self._add_member(user_id, name, None)
        self.channels: dict[int, FakeChannel] = {channel_id: FakeChannel(channel_id, channel_name, guild_id)}
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.voice = voice
        self.voice_states: dict[tuple[int, int], tuple[int, str]] = {}  # (guild, user) -> (channel, session id)
        self.voice_updates: list[JSON] = []  # every op 4 the bot sent, in order
        self.refused_joins: list[JSON] = []  # op 4 joins Discord ignored (no CONNECT, not a voice channel)
        self.suppressed: set[tuple[int, int]] = set()  # (guild, user) in a stage channel, not allowed to speak
        self.voice_joins_open = asyncio.Event()  # cleared by `hold_voice_joins`
        self.voice_joins_open.set()
        self._held_joins: set[asyncio.Task[None]] = set()
        if voice is not None:
            voice.may_speak = lambda guild_id, user_id: (guild_id, user_id) not in self.suppressed

        self._messages: dict[int, StoredMessage] = {}
        self._attachments: dict[int, StoredAttachment] = {}
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._commands: dict[int | None, list[JSON]] = {}  # scope (guild id or None for global) -> commands
        self.sync_counts: dict[int | None, int] = {}  # scope -> number of bulk-overwrite PUTs
        self.interactions: list[InteractionRecord] = []
        self._modals: dict[str, InteractionRecord] = {}  # modal custom_id -> interaction that opened it
        self.requests: list[RequestRecord] = []
        self.unhandled: list[RequestRecord] = []
        self._injections: list[_Injection] = []
        self._closing = asyncio.Event()

        self._sessions: dict[str, _GatewaySession] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self.identify_count = 0
        self.resume_count = 0
        self.identified_shards: list[tuple[int, int] | None] = []  # the `shard` of each IDENTIFY, in order
        self.identify_violations: list[tuple[int, float]] = []  # (bucket, seconds since the bucket's last one)
        self._last_identify: dict[int, float] = {}
        self.dispatched: dict[str, int] = {}  # events sent, per name, counting each session
        self.presence: JSON | None = None
        self.ready = asyncio.Event()  # set while an identified gateway session is connected
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = f"http://127.0.0.1:{port}" if port else ""  # known before start with a fixed port

    async def start(self) -> None:
        """Serve on 127.0.0.1 at ``port`` (0: a random one)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=1024**3)
        self._add_routes(app.router)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        # Discord takes any number of new connections at once; a listen queue of aiohttp's default 128 would drop
        # some of a 200-command burst's, and the kernel retries those after a second (a fake-made stall).
        await web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Close gateway sockets and stop serving (responses held by an injected delay are let go)."""
        self._closing.set()
        for ws in list(self._sockets):
            await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (wrap it in ``yarl.URL``)."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def connected(self) -> bool:
        """Whether an identified gateway session has a live socket."""
        return any(session.ws is not None for session in self._sessions.values())

    def connected_for(self, guild_id: int | None) -> bool:
        """Whether the session that receives this guild's events (the owning shard's) has a live socket."""
        return any(
            session.ws is not None and session.wants("INTERACTION_CREATE", guild_id)
            for session in self._sessions.values()
        )

    async def wait_until(
        self, predicate: Callable[[], T | None], timeout: float = DEFAULT_TIMEOUT, what: str = ""
    ) -> T:
        """Return ``predicate()`` once it is truthy, re-checking on every state change of the fake."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                return cast(T, await self._changed.wait_for(predicate))
        except TimeoutError:
            raise TimeoutError(f"FakeDiscord: timed out after {timeout:g}s waiting for {what or predicate}") from None

    async def wait_for_identify(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until ``count`` IDENTIFYs in total have been answered with READY and GUILD_CREATE."""
        await self.wait_until(lambda: self.identify_count >= count, timeout, f"IDENTIFY #{count}")

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> StoredMessage:
        """The oldest visible message in the channel satisfying ``predicate`` (existing ones included)."""

        def check() -> StoredMessage | None:
            return next((m for m in self.messages(channel_id) if predicate is None or predicate(m)), None)

        return await self.wait_until(check, timeout, f"a message in channel {channel_id}")

    async def wait_for_dm(
        self, user_id: int, predicate: Callable[[StoredMessage], bool] | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> StoredMessage:
        """The oldest DM to the user satisfying ``predicate``."""

        def check() -> StoredMessage | None:
            return next((m for m in self.dm_messages(user_id) if predicate is None or predicate(m)), None)

        return await self.wait_until(check, timeout, f"a DM to user {user_id}")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def messages(self, channel_id: int) -> list[StoredMessage]:
        """Messages visible in a channel (not deleted, not ephemeral), oldest first."""
        return [m for m in self._messages.values() if m.channel_id == channel_id and not m.deleted and not m.ephemeral]

    def message(self, message_id: int) -> StoredMessage | None:
        """Any stored message by id, deleted and ephemeral ones included."""
        return self._messages.get(message_id)

    def dm_messages(self, user_id: int) -> list[StoredMessage]:
        """Messages the bot sent to the user's DM channel."""
        channel_id = self._dm_channels.get(user_id)
        return [] if channel_id is None else self.messages(channel_id)

    def bot_reactions(self, message_id: int) -> list[str]:
        """Emoji the bot currently has on a message (custom emoji as ``name:id``)."""
        message = self._messages[message_id]
        return [emoji for emoji, users in message.reactions.items() if self.bot_user.id in users]

    def registered_commands(self, guild_id: int | None = None) -> list[JSON]:
        """Commands of a scope (None = global) as last bulk-overwritten, with ids."""
        return list(self._commands.get(guild_id, []))

    def permissions_for(self, user_id: int, channel_id: int | None = None) -> int:
        """Discord's permission computation for a guild member, in a channel when given."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members[user_id]
        base = self.roles[self.guild_id].permissions
        for role_id in member.role_ids:
            base |= self.roles[role_id].permissions
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        channel = None if channel_id is None else self.channels.get(channel_id)
        if channel is None or channel.guild_id is None:
            return base
        overwrites = channel.overwrites
        if self.guild_id in overwrites:
            _, allow, deny = overwrites[self.guild_id]
            base = base & ~deny | allow
        role_allow = role_deny = 0
        for role_id in member.role_ids:
            if role_id in overwrites:
                role_allow |= overwrites[role_id][1]
                role_deny |= overwrites[role_id][2]
        base = base & ~role_deny | role_allow
        if user_id in overwrites:
            _, allow, deny = overwrites[user_id]
            base = base & ~deny | allow
        return base if base & VIEW_CHANNEL else 0

    def _add_member(self, user_id: int, name: str, permissions: int | None) -> tuple[FakeMember, FakeRole | None]:
        role = None
        if permissions is not None:
            role = FakeRole(self.snowflakes.next(), f"{name}-role", permissions, position=1)
            self.roles[role.id] = role
        member = FakeMember(FakeUser(user_id, name), [] if role is None else [role.id])
        self.members[user_id] = member
        return member, role

    async def add_member(
        self, user_id: int, name: str, permissions: int | discord.Permissions | None = None
    ) -> FakeMember:
        """Add a guild member; ``permissions`` are granted through a role of their own (GUILD_ROLE_CREATE)."""
        bits = permissions.value if isinstance(permissions, discord.Permissions) else permissions
        member, role = self._add_member(user_id, name, bits)
        if role is not None:
            await self._dispatch("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": role.payload()})
        return member

    async def add_guild(self, name: str, *, shard: int | None = None) -> tuple[int, int]:
        """Add a guild (same members and roles as the main one) with one text channel; return (guild, channel).

        With ``shard`` its id is chosen so that it lands on that shard of ``shard_count``; a connected session of
        that shard gets its GUILD_CREATE.
        """
        guild_id = self.snowflakes.next()
        if shard is not None:
            guild_id += ((shard - (guild_id >> 22)) % self.shard_count) << 22
            self.snowflakes.advance_to(guild_id)
        self.guild_names[guild_id] = name
        channel = FakeChannel(self.snowflakes.next(), "general", guild_id)
        self.channels[channel.id] = channel
        for session in list(self._sessions.values()):
            if session.wants("GUILD_CREATE", guild_id):
                await session.dispatch("GUILD_CREATE", self._guild_create(session.intents, guild_id))
        await self._notify()
        return guild_id, channel.id

    async def add_channel(self, name: str) -> int:
        """Create a guild text channel (CHANNEL_CREATE) and return its id."""
        channel = FakeChannel(self.snowflakes.next(), name, self.guild_id, position=len(self.channels))
        self.channels[channel.id] = channel
        await self._dispatch("CHANNEL_CREATE", channel.payload())
        return channel.id

    async def delete_channel(self, channel_id: int) -> None:
        """Delete a guild channel (CHANNEL_DELETE); REST calls to it then answer 404 / 10003."""
        channel = self.channels[channel_id]
        channel.deleted = True
        await self._dispatch("CHANNEL_DELETE", channel.payload())

    async def deny_permission(self, channel_id: int, *permissions: str) -> None:
        """Deny the bot discord.py-named permissions (``"send_messages"``, ...) in a channel (CHANNEL_UPDATE)."""
        channel = self.channels[channel_id]
        bits = _permission_bits(permissions)
        _, allow, deny = channel.overwrites.get(self.bot_user.id, (1, 0, 0))
        channel.overwrites[self.bot_user.id] = (1, allow & ~bits, deny | bits)
        await self._dispatch("CHANNEL_UPDATE", channel.payload())

    async def allow_permission(self, channel_id: int, *permissions: str) -> None:
        """Allow the bot discord.py-named permissions (``"mute_members"``, ...) in a channel (CHANNEL_UPDATE)."""
        channel = self.channels[channel_id]
        bits = _permission_bits(permissions)
        _, allow, deny = channel.overwrites.get(self.bot_user.id, (1, 0, 0))
        channel.overwrites[self.bot_user.id] = (1, allow | bits, deny & ~bits)
        await self._dispatch("CHANNEL_UPDATE", channel.payload())

    async def clear_overwrites(self, channel_id: int) -> None:
        """Remove every permission overwrite of a channel (CHANNEL_UPDATE)."""
        channel = self.channels[channel_id]
        channel.overwrites.clear()
        await self._dispatch("CHANNEL_UPDATE", channel.payload())

    def dm_channel_id(self, user_id: int) -> int:
        """The DM channel between the bot and a member, created on first use."""
        if user_id not in self._dm_channels:
            channel = FakeChannel(self.snowflakes.next(), "", recipient=self.members[user_id].user)
            self.channels[channel.id] = channel
            self._dm_channels[user_id] = channel.id
        return self._dm_channels[user_id]

    def expire_interaction_token(self, token: str) -> None:
        """Make webhook calls with this interaction token answer 401 / 50027 from now on."""
        record = next(r for r in self.interactions if r.token == token)
        record.token_expired = True
