"""What each part of `FakeDiscord` (rest, interactions, gateway, driver) uses of the whole, declared once.

Part of `tests.fakes.discord`. Every part subclasses `FakeDiscordParts`, so mypy checks each part's use of the
state `FakeDiscord.__init__` builds and of the methods another part defines, and checks each definition against
its declaration here. Nothing here exists at run time beyond an empty base class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.discord.state import (
    DEFAULT_TIMEOUT,
    JSON,
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
    UploadedFile,
    _Body,
    _Injection,
)

if TYPE_CHECKING:
    from tests.fakes.discord.gateway import _GatewaySession
    from tests.fakes.voice.server import FakeVoiceServer


class FakeDiscordParts:
    """The state and the cross-part methods of `FakeDiscord`, as its parts see them."""

    bot_user: FakeUser
    application_id: int
    guild_id: int
    guild_name: str
    owner_id: int
    guild_names: dict[int, str]
    shard_count: int
    max_concurrency: int
    channel_id: int
    premium_tier: int
    upload_limit: int
    interaction_deadline: float
    nonce_window: float
    heartbeat_interval_ms: int
    token: str | None
    base_url: str
    snowflakes: SnowflakeGenerator
    roles: dict[int, FakeRole]
    members: dict[int, FakeMember]
    channels: dict[int, FakeChannel]
    interactions: list[InteractionRecord]
    requests: list[RequestRecord]
    unhandled: list[RequestRecord]
    sync_counts: dict[int | None, int]
    identify_count: int
    resume_count: int
    identified_shards: list[tuple[int, int] | None]
    identify_violations: list[tuple[int, float]]
    dispatched: dict[str, int]
    ready: asyncio.Event
    _messages: dict[int, StoredMessage]
    _attachments: dict[int, StoredAttachment]
    _nonces: dict[tuple[int, str], tuple[int, float]]
    _commands: dict[int | None, list[JSON]]
    _modals: dict[str, InteractionRecord]
    _injections: list[_Injection]
    _closing: asyncio.Event
    _sessions: dict[str, _GatewaySession]
    _sockets: set[web.WebSocketResponse]
    _last_identify: dict[int, float]
    voice: FakeVoiceServer | None
    voice_states: dict[tuple[int, int], tuple[int, str]]
    voice_updates: list[JSON]
    refused_joins: list[JSON]
    suppressed: set[tuple[int, int]]

    if TYPE_CHECKING:
        # server.py
        @property
        def gateway_url(self) -> str: ...
        @property
        def connected(self) -> bool: ...
        def connected_for(self, guild_id: int | None) -> bool: ...
        async def wait_until(
            self, predicate: Callable[[], T | None], timeout: float = DEFAULT_TIMEOUT, what: str = ""
        ) -> T: ...
        async def _notify(self) -> None: ...
        def messages(self, channel_id: int) -> list[StoredMessage]: ...
        def permissions_for(self, user_id: int, channel_id: int | None = None) -> int: ...
        def dm_channel_id(self, user_id: int) -> int: ...

        # rest.py
        @staticmethod
        def _body(request: web.Request) -> _Body: ...
        @staticmethod
        def _int(request: web.Request, name: str) -> int: ...
        def _store_attachment(
            self,
            channel_id: int,
            filename: str,
            data: bytes,
            description: str | None = None,
            *,
            ephemeral: bool = False,
        ) -> StoredAttachment: ...
        async def _new_message(
            self,
            channel: FakeChannel,
            payload: JSON,
            files: Sequence[UploadedFile],
            *,
            interaction: InteractionRecord | None = None,
        ) -> StoredMessage: ...
        async def _store_message(self, message: StoredMessage) -> StoredMessage: ...
        async def _apply_edit(
            self, message: StoredMessage, payload: JSON, files: Sequence[UploadedFile]
        ) -> StoredMessage: ...
        async def _mark_deleted(self, message: StoredMessage) -> None: ...
        def _upload_limit(self, channel: FakeChannel) -> int: ...
        def _message_payload(self, message: StoredMessage, *, gateway: bool = False) -> JSON: ...
        def _reaction_event(self, message: StoredMessage, user_id: int, key: str, *, add: bool) -> JSON: ...

        # gateway.py
        def _guild_payload(self, guild_id: int | None = None) -> JSON: ...
        async def _dispatch(self, event: str, data: JSON) -> None: ...
        async def _gateway(self, request: web.Request) -> web.WebSocketResponse: ...

        # voice.py
        def _guild_voice_states(self, guild_id: int) -> list[JSON]: ...
        async def _update_voice_state(self, session: _GatewaySession, data: JSON) -> None: ...
        async def _edit_my_voice_state(self, request: web.Request) -> web.Response: ...

        # interactions.py
        async def _interaction_callback(self, request: web.Request) -> web.Response: ...
        async def _create_followup(self, request: web.Request) -> web.StreamResponse: ...
        async def _get_webhook_message(self, request: web.Request) -> web.Response: ...
        async def _edit_webhook_message(self, request: web.Request) -> web.Response: ...
        async def _delete_webhook_message(self, request: web.Request) -> web.Response: ...
