"""The fake Discord's state: its ids, limits, permissions and the records of users, channels, messages and interactions.

Part of `tests.fakes.discord`; the package docstring tells how to use it.

The original overview:
A fake Discord (REST API + gateway) served by aiohttp on 127.0.0.1, for driving the real discord.py client.

Point discord.py at it before the bot logs in::

    async with FakeDiscord() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        ...  # start the bot, then drive it with fake.invoke_command(), fake.click_button(), fake.add_reaction()

Everything lives in memory: one application/bot user, one guild with channels, roles and members, DM channels,
messages per channel, registered commands, interactions with their responses, and every REST request. Waits wake
on state changes (one asyncio.Condition) and raise TimeoutError with a description of what was awaited.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.discord.server import FakeDiscord

JSON = dict[str, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024

BOT_ID = 1_200_000_000_000_000_001
GUILD_ID = 1_200_000_000_000_000_100
CHANNEL_ID = 1_200_000_000_000_000_200
OWNER_ID = 1_200_000_000_000_000_300
USER_ID = 1_200_000_000_000_000_301
OTHER_USER_ID = 1_200_000_000_000_000_302
DEFAULT_USERS: Mapping[int, str] = {OWNER_ID: "owner", USER_ID: "alice", OTHER_USER_ID: "bob"}

_Perm = discord.Permissions
DEFAULT_EVERYONE_PERMISSIONS = _Perm(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
    use_external_emojis=True,
    use_application_commands=True,
    connect=True,
    speak=True,
).value
DEFAULT_BOT_PERMISSIONS = _Perm(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
).value
DM_PERMISSIONS = DEFAULT_BOT_PERMISSIONS
ALL_PERMISSIONS = _Perm.all().value
ADMINISTRATOR = _Perm(administrator=True).value
VIEW_CHANNEL = _Perm(view_channel=True).value

GUILD_MEMBERS_INTENT = 1 << 1
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_CHARS = 6000
MAX_ATTACHMENTS = 10
MAX_NONCE = 25
# Discord's per-embed limits (field: characters), each refused with 400 / 50035 as Discord does.
EMBED_TEXT_LIMITS = {
    "title": 256,
    "description": 4096,
    "field name": 256,
    "field value": 1024,
    "footer": 2048,
    "author": 256,
}
MAX_EMBED_FIELDS = 25
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_CUSTOM_ID = 100
MAX_CHOICES = 25

# Interaction type -> callback types Discord accepts for it (1 ping, 2 command, 3 component, 4 autocomplete, 5 modal).
ALLOWED_CALLBACKS: Mapping[int, frozenset[int]] = {
    1: frozenset({1}),
    2: frozenset({4, 5, 9}),
    3: frozenset({4, 5, 6, 7, 9}),
    4: frozenset({8}),
    5: frozenset({4, 5, 6, 7}),
}
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


def _permission_bits(names: Sequence[str]) -> int:
    """Bits of discord.py permission names such as ``"send_messages"`` (TypeError on an unknown name)."""
    return discord.Permissions(**dict.fromkeys(names, True)).value


def _emoji_key(emoji: str) -> str:
    """Normalise ``<a:name:id>`` / ``a:name:id`` / ``name:id`` to ``name:id``; unicode emoji stay as they are."""
    parts = emoji.strip("<>").split(":")
    if len(parts) >= 2 and parts[-1].isdigit():
        return f"{parts[-2]}:{parts[-1]}"
    return emoji


def _emoji_payload(key: str) -> JSON:
    name, _, emoji_id = key.rpartition(":")
    if emoji_id.isdigit() and name:
        return {"id": emoji_id, "name": name}
    return {"id": None, "name": key}


def _embed_length(embed: JSON) -> int:
    """Characters Discord counts towards the 6,000 per-message embed limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in embed.get("fields") or [])
    total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    return total


def _embed_problems(embed: JSON) -> list[tuple[str, str]]:
    """Every limit an embed breaks, as (field path, Discord's message), and URLs Discord would refuse."""
    texts = {
        "title": embed.get("title"),
        "description": embed.get("description"),
        "footer": (embed.get("footer") or {}).get("text"),
        "author": (embed.get("author") or {}).get("name"),
    }
    problems = [
        (name, f"Must be {EMBED_TEXT_LIMITS[name]} or fewer in length.")
        for name, text in texts.items()
        if len(text or "") > EMBED_TEXT_LIMITS[name]
    ]
    fields = embed.get("fields") or []
    if len(fields) > MAX_EMBED_FIELDS:
        problems.append(("fields", f"Must be {MAX_EMBED_FIELDS} or fewer in length."))
    for index, item in enumerate(fields):
        if not (item.get("name") or "") or len(item["name"]) > EMBED_TEXT_LIMITS["field name"]:
            problems.append((f"fields.{index}.name", "Must be between 1 and 256 in length."))
        if not (item.get("value") or "") or len(item["value"]) > EMBED_TEXT_LIMITS["field value"]:
            problems.append((f"fields.{index}.value", "Must be between 1 and 1024 in length."))
    urls = {
        "url": embed.get("url"),
        "image.url": (embed.get("image") or {}).get("url"),
        "thumbnail.url": (embed.get("thumbnail") or {}).get("url"),
    }
    for name, url in urls.items():
        if url is not None and not re.match(r"^(https?://[^\s/]+|attachment://\S+)", url):
            problems.append(
                (name, "Scheme must be one of ('http', 'https')." if "://" in url else "Not a well formed URL.")
            )
    return problems


def _component_problems(components: Sequence[JSON]) -> list[tuple[str, str]]:
    """Action rows and buttons past Discord's limits (5 rows of 5, custom_id up to 100 characters)."""
    problems = []
    if len(components) > MAX_ACTION_ROWS:
        problems.append(("components", f"Must be {MAX_ACTION_ROWS} or fewer in length."))
    for row_index, row in enumerate(components):
        children = row.get("components") or []
        if len(children) > MAX_ROW_BUTTONS:
            problems.append((f"components.{row_index}.components", f"Must be {MAX_ROW_BUTTONS} or fewer in length."))
        for child in children:
            if len(child.get("custom_id") or "") > MAX_CUSTOM_ID:
                problems.append((f"components.{row_index}.custom_id", "Must be 100 or fewer in length."))
    return problems


def _find_component(components: Sequence[JSON], custom_id: str) -> JSON | None:
    """Depth-first search through action rows, containers, sections and labels for a custom_id."""
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        children = [
            *component.get("components", []),
            *(component[k] for k in ("component", "accessory") if k in component),
        ]
        found = _find_component(children, custom_id)
        if found is not None:
            return found
    return None


def _json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly ``application/json`` (discord.py compares the whole header)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


class ApiError(Exception):
    """A Discord error answer: HTTP status plus JSON ``{"code", "message", "errors"?}``."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return _json_response(body, self.status)


def _form_error(field_name: str, code: str, message: str) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", {field_name: {"_errors": [{"code": code, "message": message}]}})


class SnowflakeGenerator:
    """Monotonic Discord snowflakes: milliseconds since the Discord epoch << 22 | worker | process | increment."""

    def __init__(self, worker_id: int = 1, process_id: int = 0) -> None:
        self._low = (worker_id & 0x1F) << 17 | (process_id & 0x1F) << 12
        self._last = 0

    def next(self) -> int:
        """A new id, strictly greater than every id handed out before."""
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22 | self._low
        self._last = max(stamp, self._last + 1)
        return self._last

    def advance_to(self, snowflake: int) -> None:
        """Count `snowflake` as handed out, so later ids stay greater."""
        self._last = max(self._last, snowflake)


@dataclass
class FakeUser:
    """A Discord user (the bot or a human)."""

    id: int
    name: str
    bot: bool = False

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": None if self.bot else self.name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    name: str
    permissions: int
    position: int = 0
    bot_id: int | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.bot_id is not None,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class FakeMember:
    """A guild member: a user plus role ids."""

    user: FakeUser
    role_ids: list[int]
    joined_at: datetime = field(default_factory=_now)

    def payload(self, *, permissions: int | None = None, with_user: bool = True) -> JSON:
        data: JSON = {
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": _iso(self.joined_at),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeChannel:
    """A guild text channel (``guild_id`` set) or a DM channel (``recipient`` set)."""

    id: int
    name: str
    guild_id: int | None = None
    recipient: FakeUser | None = None
    position: int = 0
    overwrites: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # target -> (type, allow, deny)
    last_message_id: int | None = None
    deleted: bool = False
    kind: int = 0  # 0 text, 2 voice, 13 stage

    def payload(self) -> JSON:
        last = None if self.last_message_id is None else str(self.last_message_id)
        if self.recipient is not None:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": last,
                "flags": 0,
                "recipients": [self.recipient.payload()],
            }
        voice = {"bitrate": 64_000, "user_limit": 0, "rtc_region": None} if self.kind in (2, 13) else {}
        return {
            **voice,
            "id": str(self.id),
            "type": self.kind,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": last,
            "flags": 0,
            "permission_overwrites": [
                {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}
                for target, (kind, allow, deny) in self.overwrites.items()
            ],
        }


@dataclass
class UploadedFile:
    """One ``files[N]`` part of a multipart request."""

    name: str  # the form field, e.g. "files[0]"
    filename: str
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass
class StoredAttachment:
    """A stored upload, served back at ``url`` by the fake."""

    id: int
    channel_id: int
    filename: str
    data: bytes = field(repr=False)
    content_type: str | None
    url: str
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        if self.description is not None:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data


@dataclass(frozen=True)
class MessageVersion:
    """A message's state before an edit."""

    content: str
    embeds: list[JSON]
    attachments: list[str]
    components: list[JSON]
    flags: int
    at: datetime


@dataclass(eq=False)
class StoredMessage:
    """A message as Discord stores it; ``edits`` keeps the versions before each edit."""

    id: int
    channel_id: int
    author: FakeUser
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    nonce: str | int | None = None
    allowed_mentions: JSON | None = None
    flags: int = 0
    tts: bool = False
    created_at: datetime = field(default_factory=_now)
    edited_at: datetime | None = None
    edits: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji key -> user ids, in reaction order
    interaction: InteractionRecord | None = field(default=None, repr=False)
    reply_to: int | None = None  # the message this one replies to (``message_reference``)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still the "thinking..." placeholder of a deferred interaction."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def mention_everyone(self) -> bool:
        """Whether @everyone/@here in the content pings, going by ``allowed_mentions`` (permissions not modelled)."""
        if "@everyone" not in self.content and "@here" not in self.content:
            return False
        return self.allowed_mentions is None or "everyone" in self.allowed_mentions.get("parse", [])

    def attachment(self, filename: str) -> StoredAttachment:
        """The attachment with this filename (KeyError when there is none)."""
        for attachment in self.attachments:
            if attachment.filename == filename:
                return attachment
        raise KeyError(f"message {self.id} has no attachment {filename!r}")

    def snapshot(self) -> MessageVersion:
        return MessageVersion(
            self.content,
            list(self.embeds),
            [a.filename for a in self.attachments],
            list(self.components),
            self.flags,
            self.edited_at or self.created_at,
        )


@dataclass
class CallbackRecord:
    """One POST to ``/interactions/{id}/{token}/callback``; ``status`` != 200 means Discord rejected it."""

    type: int
    data: JSON
    at: float  # time.perf_counter()
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 200
    code: int | None = None


@dataclass
class RequestRecord:
    """One REST request as the fake saw it (``json`` is ``payload_json`` for multipart requests)."""

    method: str
    path: str  # relative to /api/v10
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    at: float  # time.perf_counter()
    status: int | None = None


@dataclass
class _Body:
    json: Any
    files: list[UploadedFile]


BODY_KEY = web.RequestKey("fake_discord_body", _Body)
RECORD_KEY = web.RequestKey("fake_discord_record", RequestRecord)


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern[str]
    status: int | None  # None: handle the request as usual
    body: JSON
    headers: dict[str, str]
    remaining: int
    delay: float


@dataclass(eq=False)
class InteractionRecord:
    """An interaction the fake dispatched, and what the bot did with it."""

    fake: FakeDiscord = field(repr=False)
    id: int
    token: str
    type: int
    user: FakeUser
    channel_id: int
    payload: JSON = field(repr=False)
    created_at: float  # time.perf_counter() just before INTERACTION_CREATE was sent
    message_id: int | None = None  # the message a component interaction came from
    callbacks: list[CallbackRecord] = field(default_factory=list)
    response: CallbackRecord | None = None  # the accepted (first successful) callback
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: JSON | None = None  # data of a callback type 9
    choices: list[JSON] | None = None  # data.choices of a callback type 8
    token_expired: bool = False

    @property
    def original(self) -> StoredMessage | None:
        """The current original response (after edits), or None if there is none or it was deleted."""
        message = None if self.original_id is None else self.fake.message(self.original_id)
        return None if message is None or message.deleted else message

    @property
    def followups(self) -> list[StoredMessage]:
        """Follow-up messages that were not deleted (the first one after a "thinking" defer is the original)."""
        messages = (self.fake.message(i) for i in self.followup_ids)
        return [m for m in messages if m is not None and not m.deleted]

    @property
    def latency(self) -> float | None:
        """Seconds between dispatch and the accepted callback."""
        return None if self.response is None else self.response.at - self.created_at

    async def wait_response(self, timeout: float = DEFAULT_TIMEOUT) -> CallbackRecord:
        """The accepted callback (type and data), once the bot has sent it."""
        return await self.fake.wait_until(lambda: self.response, timeout, f"a response to interaction {self.id}")

    async def wait_original(
        self, predicate: Callable[[StoredMessage], bool] | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> StoredMessage:
        """The original response once it exists and satisfies ``predicate``."""

        def check() -> StoredMessage | None:
            message = self.original
            return message if message is not None and (predicate is None or predicate(message)) else None

        return await self.fake.wait_until(check, timeout, f"the original response of interaction {self.id}")

    async def wait_followup(
        self, predicate: Callable[[StoredMessage], bool] | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> StoredMessage:
        """The first follow-up satisfying ``predicate``."""

        def check() -> StoredMessage | None:
            return next((m for m in self.followups if predicate is None or predicate(m)), None)

        return await self.fake.wait_until(check, timeout, f"a follow-up of interaction {self.id}")

    def token_valid(self) -> bool:
        """False once the token was expired on demand or its lifetime has passed."""
        lifetime = self.fake.interaction_token_lifetime
        return not self.token_expired and time.perf_counter() - self.created_at < lifetime
