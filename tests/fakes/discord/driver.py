"""What a test does as a member (a command, autocomplete, a button, a modal, a reaction), and fault injection."""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from tests.fakes.discord.parts import FakeDiscordParts
from tests.fakes.discord.state import (
    DEFAULT_TIMEOUT,
    DM_PERMISSIONS,
    JSON,
    USER_ID,
    FakeChannel,
    InteractionRecord,
    StoredMessage,
    _emoji_key,
    _find_component,
    _Injection,
)

if TYPE_CHECKING:
    from tests.fakes.discord.server import FakeDiscord


class DriverMixin(FakeDiscordParts):
    """The test-facing actions of `FakeDiscord`."""

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        json_body: JSON | None = None,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests whose method and API path (``re.fullmatch``, relative to /api/v10)
        match with ``status`` instead of handling them. A 429 gets Discord's body and headers by default,
        including ``Via`` (without it discord.py treats a 429 as a Cloudflare ban and does not retry).

        ``status=None`` handles the request as usual; with ``delay`` the answer is then held back for that many
        seconds (cut short by ``close()``) after the fake's state has changed, e.g. a message stored at Discord
        whose creation the client has not heard of yet."""
        if status is None:
            body: JSON = {}
            default_headers: dict[str, str] = {}
        elif status == 429:
            body = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False, **(json_body or {})}
            retry = float(body["retry_after"])
            default_headers = {
                "Retry-After": str(math.ceil(retry)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                "X-RateLimit-Reset-After": f"{retry:.3f}",
                "X-RateLimit-Scope": "global" if body["global"] else "user",
                "Via": "1.1 google",
            }
        else:
            body = json_body if json_body is not None else {"message": HTTPStatus(status).phrase, "code": 0}
            default_headers = {}
        all_headers = {**default_headers, **(headers or {})}
        self._injections.append(
            _Injection(method.upper(), re.compile(path_regex), status, body, all_headers, times, delay)
        )

    def clear_injections(self) -> None:
        """Forget every injected fault not used yet: requests are handled as usual again."""
        self._injections.clear()

    async def invoke_command(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        user_id: int = USER_ID,
        channel_id: int | None = None,
        *,
        subcommand: str | None = None,
        attachments: Mapping[str, tuple[str, bytes]] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> InteractionRecord:
        """Dispatch an APPLICATION_COMMAND interaction for a registered slash command.

        ``options`` maps option names to Python values typed by the registered command (users, channels and
        roles by id; attachments as ``(filename, bytes)``, also accepted through ``attachments``); a list is sent
        as raw option payloads. ``subcommand`` is ``"sub"`` or ``"group sub"``. Waits (up to ``timeout``) for the
        command to be registered and for a connected gateway session."""
        command, scope = await self._command(name, timeout)
        channel = self._test_channel(channel_id)
        resolved: JSON = {}
        values = options if isinstance(options, Sequence) else {**(options or {}), **(attachments or {})}
        data: JSON = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": self._build_options(command, values, subcommand, resolved, user_id, channel, None),
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        return await self._dispatch_interaction(2, data, user_id, channel, timeout=timeout)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        user_id: int = USER_ID,
        channel_id: int | None = None,
        *,
        subcommand: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[JSON]:
        """Dispatch an APPLICATION_COMMAND_AUTOCOMPLETE interaction and return the choices the bot answered."""
        command, scope = await self._command(name, timeout)
        channel = self._test_channel(channel_id)
        values = {focused: "", **options}
        data: JSON = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": self._build_options(command, values, subcommand, {}, user_id, channel, focused),
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        record = await self._dispatch_interaction(4, data, user_id, channel, timeout=timeout)
        response = await record.wait_response(timeout)
        if record.choices is None:
            raise AssertionError(f"/{name} autocomplete was answered with callback type {response.type}, not 8")
        return record.choices

    async def click_button(
        self, message_id: int, custom_id: str, user_id: int = USER_ID, *, timeout: float = DEFAULT_TIMEOUT
    ) -> InteractionRecord:
        """Dispatch a MESSAGE_COMPONENT interaction for a button on a stored message.

        discord.py registers a non-persistent view only after it has read the HTTP answer of the request that
        sent it, and it may handle later gateway events first: before clicking such a button, wait for a bot-side
        signal (e.g. ``bot.wait_for("app_command_completion")``). Persistent views (``add_view`` or
        ``add_dynamic_items`` in ``setup_hook``) need no wait."""
        message = self._messages.get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"no message {message_id}")
        component = _find_component(message.components, custom_id)
        if component is None or component.get("type") != 2 or component.get("disabled"):
            raise ValueError(f"message {message_id} has no enabled button with custom_id {custom_id!r}")
        data = {"custom_id": custom_id, "component_type": 2}
        channel = self._test_channel(message.channel_id)
        return await self._dispatch_interaction(3, data, user_id, channel, message=message, timeout=timeout)

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        user_id: int = USER_ID,
        channel_id: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> InteractionRecord:
        """Dispatch a MODAL_SUBMIT for a modal the bot opened, mirroring its layout (action rows or labels).

        ``values`` maps input custom_ids to a string (text inputs) or a list of strings (selects); inputs left
        out are submitted empty. As with :meth:`click_button`, discord.py registers the modal only after reading
        the callback's HTTP answer: wait for a bot-side signal that ``send_modal`` returned before submitting."""
        opener = self._modals.get(custom_id)
        if opener is None or opener.modal is None:
            raise LookupError(f"the bot opened no modal with custom_id {custom_id!r}")
        used: set[str] = set()
        components = [self._submitted(component, values, used) for component in opener.modal["components"]]
        if unknown := set(values) - used:
            raise ValueError(f"modal {custom_id!r} has no inputs {sorted(unknown)}")
        channel = self._test_channel(channel_id or opener.channel_id)
        message = None if opener.message_id is None else self._messages.get(opener.message_id)
        data = {"custom_id": custom_id, "components": components}
        return await self._dispatch_interaction(5, data, user_id, channel, message=message, timeout=timeout)

    async def flood(self, channel_id: int, count: int, user_id: int = USER_ID) -> None:
        """Members chat: `count` typing notices and messages (not stored), sent to the sessions that asked for them."""
        channel = self.channels[channel_id]
        author = self.members[user_id]
        for _ in range(count // 2):
            await self._dispatch(
                "TYPING_START",
                {
                    "channel_id": str(channel_id),
                    "guild_id": str(channel.guild_id),
                    "user_id": str(user_id),
                    "timestamp": int(time.time()),
                    "member": author.payload(),
                },
            )
            await self._dispatch(
                "MESSAGE_CREATE",
                {
                    "id": str(self.snowflakes.next()),
                    "channel_id": str(channel_id),
                    "guild_id": str(channel.guild_id),
                    "author": author.user.payload(),
                    "member": author.payload(with_user=False),
                    "content": "",
                    "timestamp": "2026-01-01T00:00:00+00:00",
                    "edited_timestamp": None,
                    "tts": False,
                    "mention_everyone": False,
                    "mentions": [],
                    "mention_roles": [],
                    "attachments": [],
                    "embeds": [],
                    "pinned": False,
                    "type": 0,
                },
            )

    async def remove_bot_from_guild(self, guild_id: int) -> None:
        """The server removes the bot (kicked, or the server deleted): GUILD_DELETE without `unavailable`."""
        await self._dispatch("GUILD_DELETE", {"id": str(guild_id)})
        await self._notify()

    async def add_reaction(self, channel_id: int, message_id: int, user_id: int, emoji: str) -> None:
        """A member reacts to a message: recorded on it and dispatched as MESSAGE_REACTION_ADD."""
        message = self._visible_message(channel_id, message_id)
        key = _emoji_key(emoji)
        users = message.reactions.setdefault(key, [])
        if user_id not in users:
            users.append(user_id)
            await self._dispatch("MESSAGE_REACTION_ADD", self._reaction_event(message, user_id, key, add=True))
            await self._notify()

    async def remove_reaction(self, channel_id: int, message_id: int, user_id: int, emoji: str) -> None:
        """A member takes their reaction back: dispatched as MESSAGE_REACTION_REMOVE (no member data, as Discord)."""
        message = self._visible_message(channel_id, message_id)
        key = _emoji_key(emoji)
        users = message.reactions.get(key, [])
        if user_id in users:
            users.remove(user_id)
            if not users:
                del message.reactions[key]
            await self._dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(message, user_id, key, add=False))
            await self._notify()

    def _visible_message(self, channel_id: int, message_id: int) -> StoredMessage:
        """A message members can react to (LookupError when it is not in that channel or was deleted)."""
        message = self._messages.get(message_id)
        if message is None or message.channel_id != channel_id or message.deleted:
            raise LookupError(f"no message {message_id} in channel {channel_id}")
        return message

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every socket; discord.py reconnects and RESUMEs."""
        for session in self._sessions.values():
            if session.ws is not None:
                async with session.lock:
                    await session.ws.send_str(json.dumps({"op": 7, "d": None, "s": None, "t": None}))

    async def _command(self, name: str, timeout: float) -> tuple[JSON, int | None]:
        def find() -> tuple[JSON, int | None] | None:
            for scope in (self.guild_id, None):
                for command in self._commands.get(scope, []):
                    if command["name"] == name and command.get("type", 1) == 1:
                        return command, scope
            return None

        return await self.wait_until(find, timeout, f"slash command /{name} to be registered")

    def _test_channel(self, channel_id: int | None) -> FakeChannel:
        channel = self.channels.get(channel_id or self.channel_id)
        if channel is None or channel.deleted:
            raise LookupError(f"no channel {channel_id}")
        return channel

    def _build_options(
        self,
        command: JSON,
        values: Mapping[str, Any] | Sequence[JSON],
        subcommand: str | None,
        resolved: JSON,
        user_id: int,
        channel: FakeChannel,
        focused: str | None,
    ) -> list[JSON]:
        """Serialise option values by the registered option types, nested under (group) subcommands."""
        specs: list[JSON] = command.get("options", [])
        path: list[tuple[str, int]] = []
        for part in (subcommand or "").split():
            spec = next((o for o in specs if o["name"] == part and o["type"] in (1, 2)), None)
            if spec is None:
                raise ValueError(f"/{command['name']} has no subcommand (group) {part!r}")
            path.append((part, spec["type"]))
            specs = spec.get("options", [])
        if any(o["type"] in (1, 2) for o in specs):
            raise ValueError(f"/{command['name']} needs subcommand=... (one of {[o['name'] for o in specs]})")
        if isinstance(values, Sequence):
            leaf = list(values)
        else:
            by_name = {o["name"]: o for o in specs}
            if unknown := set(values) - set(by_name):
                raise ValueError(f"/{command['name']} has no options {sorted(unknown)}; it has {sorted(by_name)}")
            missing = [o["name"] for o in specs if o.get("required") and o["name"] not in values]
            if missing and focused is None:
                raise ValueError(f"/{command['name']} is missing required options {missing}")
            leaf = []
            for option_name, value in values.items():
                spec = by_name[option_name]
                if option_name == focused:
                    leaf.append({"name": option_name, "type": spec["type"], "value": str(value), "focused": True})
                else:
                    option_value = self._option_value(spec, value, resolved, user_id, channel)
                    leaf.append({"name": option_name, "type": spec["type"], "value": option_value})
        for part, kind in reversed(path):
            leaf = [{"name": part, "type": kind, "options": leaf}]
        return leaf

    def _option_value(self, spec: JSON, value: Any, resolved: JSON, user_id: int, channel: FakeChannel) -> Any:
        kind = spec["type"]
        if kind == 11:
            filename, data = value
            attachment = self._store_attachment(channel.id, filename, data, ephemeral=True)
            resolved.setdefault("attachments", {})[str(attachment.id)] = attachment.payload()
            return str(attachment.id)
        converted: Any
        match kind:
            case 3:
                converted = str(value)
            case 4:
                converted = int(value)
            case 10:
                converted = float(value)
            case 5:
                converted = bool(value)
            case 6 | 7 | 8 | 9:
                return self._resolve_snowflake(kind, int(value), resolved, user_id, channel)
            case _:
                raise ValueError(f"option {spec['name']!r} has unsupported type {kind}")
        choices = [c["value"] for c in spec.get("choices") or []]
        if choices and converted not in choices:
            raise ValueError(f"option {spec['name']!r} must be one of {choices}, not {converted!r}")
        return converted

    def _resolve_snowflake(self, kind: int, snowflake: int, resolved: JSON, user_id: int, channel: FakeChannel) -> str:
        """Fill ``resolved`` for a user (6), channel (7), role (8) or mentionable (9) option."""
        if kind in (6, 9) and snowflake in self.members:
            member = self.members[snowflake]
            resolved.setdefault("users", {})[str(snowflake)] = member.user.payload()
            member_data = member.payload(permissions=self.permissions_for(snowflake, channel.id), with_user=False)
            resolved.setdefault("members", {})[str(snowflake)] = member_data
        elif kind == 7 and snowflake in self.channels:
            channel = self.channels[snowflake]
            permissions = self.permissions_for(user_id, snowflake)
            resolved.setdefault("channels", {})[str(snowflake)] = {**channel.payload(), "permissions": str(permissions)}
        elif kind in (8, 9) and snowflake in self.roles:
            resolved.setdefault("roles", {})[str(snowflake)] = self.roles[snowflake].payload()
        else:
            raise ValueError(f"nothing with id {snowflake} fits an option of type {kind}")
        return str(snowflake)

    def _submitted(self, component: JSON, values: Mapping[str, str | Sequence[str]], used: set[str]) -> JSON:
        """The MODAL_SUBMIT form of one modal component."""
        kind = component["type"]
        if kind == 1:
            return {"type": 1, "components": [self._submitted(c, values, used) for c in component["components"]]}
        if kind == 18:
            return {"type": 18, "component": self._submitted(component["component"], values, used)}
        custom_id = component.get("custom_id")
        if custom_id is None:
            return {"type": kind}
        used.add(custom_id)
        value = values.get(custom_id, "")
        if isinstance(value, str):
            return {"type": kind, "custom_id": custom_id, "value": value}
        return {"type": kind, "custom_id": custom_id, "values": list(value)}

    async def _dispatch_interaction(
        self,
        kind: int,
        data: JSON,
        user_id: int,
        channel: FakeChannel,
        *,
        message: StoredMessage | None = None,
        timeout: float,
    ) -> InteractionRecord:
        """Build an INTERACTION_CREATE payload like Discord's and send it to the session of the guild's shard."""
        member = self.members.get(user_id)
        if member is None:
            raise LookupError(f"user {user_id} is not a member; add_member() first")
        await self.wait_until(
            lambda: self.connected_for(channel.guild_id), timeout, "a connected gateway session for the guild"
        )
        interaction_id = self.snowflakes.next()
        token = f"fake.{interaction_id}.{secrets.token_urlsafe(32)}"
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": self._upload_limit(channel),
        }
        if channel.guild_id is not None:
            permissions = self.permissions_for(user_id, channel.id)
            payload |= {
                "channel": {**channel.payload(), "permissions": str(permissions)},
                "guild_id": str(channel.guild_id),
                "guild": {"id": str(channel.guild_id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": member.payload(permissions=permissions),
                "app_permissions": str(self.permissions_for(self.bot_user.id, channel.id)),
                "authorizing_integration_owners": {"0": str(channel.guild_id)},
                "context": 0,
            }
        else:
            payload |= {
                "channel": {**channel.payload(), "permissions": str(DM_PERMISSIONS)},
                "user": member.user.payload(),
                "app_permissions": str(DM_PERMISSIONS),
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,
            }
        if message is not None:
            payload["message"] = self._message_payload(message)
        record = InteractionRecord(
            fake=cast("FakeDiscord", self),  # every part is part of one FakeDiscord
            id=interaction_id,
            token=token,
            type=kind,
            user=member.user,
            channel_id=channel.id,
            payload=payload,
            created_at=time.perf_counter(),
            message_id=None if message is None else message.id,
        )
        self.interactions.append(record)
        await self._dispatch("INTERACTION_CREATE", payload)
        return record
