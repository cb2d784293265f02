"""The fake REST API with Discord's limits: auth, users, guilds, commands, channels, messages, reactions, files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from tests.fakes.discord.parts import FakeDiscordParts
from tests.fakes.discord.state import (
    API_PREFIX,
    BODY_KEY,
    COMMAND_NAME,
    DEFAULT_UPLOAD_LIMIT,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON,
    MAX_ATTACHMENTS,
    MAX_CHOICES,
    MAX_CONTENT,
    MAX_EMBED_CHARS,
    MAX_EMBEDS,
    MAX_NONCE,
    RECORD_KEY,
    VIEW_CHANNEL,
    ApiError,
    FakeChannel,
    InteractionRecord,
    RequestRecord,
    StoredAttachment,
    StoredMessage,
    UploadedFile,
    _Body,
    _component_problems,
    _embed_length,
    _embed_problems,
    _emoji_key,
    _emoji_payload,
    _form_error,
    _Injection,
    _iso,
    _json_response,
    _now,
    _permission_bits,
)


class RestMixin(FakeDiscordParts):
    """The HTTP routes of `FakeDiscord`."""

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        snowflake = r"{%s:\d+}"
        app, guild, channel, message, user = (snowflake % n for n in ("app", "guild", "channel", "message", "user"))
        webhook = f"/webhooks/{app}/{{token}}"
        routes: list[tuple[str, str, Any]] = [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/users/@me/guilds", self._get_my_guilds),
            ("GET", f"/users/{user}", self._get_user),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", f"/applications/{app}/commands", self._get_commands),
            ("PUT", f"/applications/{app}/commands", self._put_commands),
            ("GET", f"/applications/{app}/guilds/{guild}/commands", self._get_commands),
            ("PUT", f"/applications/{app}/guilds/{guild}/commands", self._put_commands),
            ("POST", f"/interactions/{snowflake % 'interaction'}/{{token}}/callback", self._interaction_callback),
            ("POST", webhook, self._create_followup),
            ("GET", f"{webhook}/messages/@original", self._get_webhook_message),
            ("PATCH", f"{webhook}/messages/@original", self._edit_webhook_message),
            ("DELETE", f"{webhook}/messages/@original", self._delete_webhook_message),
            ("GET", f"{webhook}/messages/{message}", self._get_webhook_message),
            ("PATCH", f"{webhook}/messages/{message}", self._edit_webhook_message),
            ("DELETE", f"{webhook}/messages/{message}", self._delete_webhook_message),
            ("GET", f"/channels/{channel}", self._get_channel),
            ("POST", f"/channels/{channel}/typing", self._typing),
            ("GET", f"/channels/{channel}/messages", self._list_messages),
            ("POST", f"/channels/{channel}/messages", self._create_message),
            ("GET", f"/channels/{channel}/messages/{message}", self._get_message),
            ("PATCH", f"/channels/{channel}/messages/{message}", self._edit_message),
            ("DELETE", f"/channels/{channel}/messages/{message}", self._delete_message),
            ("PUT", f"/channels/{channel}/messages/{message}/reactions/{{emoji}}/@me", self._add_own_reaction),
            ("DELETE", f"/channels/{channel}/messages/{message}/reactions/{{emoji}}/@me", self._remove_reaction),
            ("DELETE", f"/channels/{channel}/messages/{message}/reactions/{{emoji}}/{user}", self._remove_reaction),
            ("GET", f"/guilds/{guild}", self._get_guild),
            ("GET", f"/guilds/{guild}/channels", self._get_guild_channels),
            ("PATCH", f"/guilds/{guild}/voice-states/@me", self._edit_my_voice_state),
            ("GET", f"/guilds/{guild}/members/{user}", self._get_member),
        ]
        for method, path, handler in routes:
            router.add_route(method, API_PREFIX + path, handler)
        router.add_route("*", API_PREFIX + "/{tail:.*}", self._unhandled)
        router.add_get(f"/attachments/{channel}/{snowflake % 'attachment'}/{{filename}}", self._serve_attachment)
        router.add_get("/gateway", self._gateway)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Parse and record API requests, apply injected faults, turn ApiError into Discord's error JSON."""
        if not request.path.startswith(API_PREFIX + "/"):
            response: web.StreamResponse = await handler(request)
            return response
        path = request.path.removeprefix(API_PREFIX)
        record = RequestRecord(request.method, path, dict(request.query), None, [], time.perf_counter())
        self.requests.append(record)
        request[RECORD_KEY] = record
        injection: _Injection | None = None
        try:
            body = await self._read_body(request)
            record.json, record.files = body.json, body.files
            request[BODY_KEY] = body
            self._check_auth(request, path)
            injection = next(
                (i for i in self._injections if i.method == request.method and i.pattern.fullmatch(path)), None
            )
            if injection is not None:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
            if injection is not None and injection.status is not None:
                response = _json_response(injection.body, injection.status, injection.headers)
            else:
                response = await handler(request)
        except ApiError as error:
            response = error.response()
        record.status = response.status
        await self._notify()
        if injection is not None and injection.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), injection.delay)
        return response

    @staticmethod
    async def _read_body(request: web.Request) -> _Body:
        if request.content_type == "multipart/form-data":
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                content = bytes(await part.read())
                if part.name == "payload_json":
                    payload = json.loads(content)
                else:
                    files.append(
                        UploadedFile(part.name or "", part.filename or "", part.headers.get("Content-Type"), content)
                    )
            return _Body(payload, files)
        raw = await request.read()
        try:
            return _Body(json.loads(raw) if raw else None, [])
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    def _check_auth(self, request: web.Request, path: str) -> None:
        """With a configured token, bot routes need ``Authorization: Bot <token>`` (token routes need none)."""
        if self.token is None or path.startswith(("/interactions/", "/webhooks/")):
            return
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    async def _unhandled(self, request: web.Request) -> web.Response:
        self.unhandled.append(request[RECORD_KEY])
        raise ApiError(404, 0, "404: Not Found")

    @staticmethod
    def _body(request: web.Request) -> _Body:
        return request[BODY_KEY]

    @staticmethod
    def _int(request: web.Request, name: str) -> int:
        return int(request.match_info[name])

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                **self.bot_user.payload(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "locale": "en-US",
                "email": None,
            }
        )

    async def _get_my_guilds(self, request: web.Request) -> web.Response:
        """The bot's servers as partial guilds, with its permissions there (as Discord lists them)."""
        guild: JSON = {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "banner": None,
            "owner": False,
            "permissions": str(self.permissions_for(self.bot_user.id)),
            "features": [],
        }
        return _json_response([guild])

    async def _get_user(self, request: web.Request) -> web.Response:
        member = self.members.get(self._int(request, "user"))
        if member is None:
            raise ApiError(404, 10013, "Unknown User")
        return _json_response(member.user.payload())

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.name,
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.members[self.owner_id].user.payload(),
                "team": None,
                "flags": 0,
                "bot": self.bot_user.payload(),
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": self.max_concurrency}
        return _json_response({"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit})

    async def _get_guild(self, request: web.Request) -> web.Response:
        if self._int(request, "guild") not in self.guild_names:
            raise ApiError(404, 10004, "Unknown Guild")
        return _json_response(self._guild_payload(self._int(request, "guild")))

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        guild_id = self._int(request, "guild")
        if guild_id not in self.guild_names:
            raise ApiError(404, 10004, "Unknown Guild")
        channels = [c.payload() for c in self.channels.values() if c.guild_id == guild_id and not c.deleted]
        return _json_response(channels)

    async def _get_member(self, request: web.Request) -> web.Response:
        member = self.members.get(self._int(request, "user"))
        if self._int(request, "guild") not in self.guild_names:
            raise ApiError(404, 10004, "Unknown Guild")
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return _json_response(member.payload())

    async def _create_dm(self, request: web.Request) -> web.Response:
        recipient = int(self._body(request).json["recipient_id"])
        if recipient not in self.members:
            raise ApiError(404, 10013, "Unknown User")
        return _json_response(self.channels[self.dm_channel_id(recipient)].payload())

    async def _get_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return _json_response(self._commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: ids survive for commands with the same name and type, as on Discord."""
        scope = self._command_scope(request)
        payload = self._body(request).json
        if not isinstance(payload, list):
            raise _form_error("_root", "LIST_TYPE_CONVERT", "Must be a list.")
        for index, command in enumerate(payload):
            self._validate_command(command, str(index))
        previous = {(c["name"], c.get("type", 1)): c["id"] for c in self._commands.get(scope, [])}
        stored = []
        for command in payload:
            key = (command["name"], command.get("type", 1))
            entry: JSON = {
                "id": previous.get(key) or str(self.snowflakes.next()),
                "application_id": str(self.application_id),
                "version": str(self.snowflakes.next()),
                "type": key[1],
                "default_member_permissions": None,
                "nsfw": False,
                **command,
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self._commands[scope] = stored
        self.sync_counts[scope] = self.sync_counts.get(scope, 0) + 1
        return _json_response(stored)

    def _command_scope(self, request: web.Request) -> int | None:
        if self._int(request, "app") != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild" not in request.match_info:
            return None
        if self._int(request, "guild") != self.guild_id:
            raise ApiError(403, 50001, "Missing Access")
        return self._int(request, "guild")

    def _validate_command(self, command: JSON, where: str) -> None:
        """Discord's main command limits: names, descriptions, 25 options, 25 choices."""
        name = command.get("name", "")
        if command.get("type", 1) == 1:
            if not COMMAND_NAME.fullmatch(name) or name != name.lower():
                raise _form_error(f"{where}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {name!r}.")
            if not 1 <= len(command.get("description", "")) <= 100:
                raise _form_error(f"{where}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
        elif not 1 <= len(name) <= 32:
            raise _form_error(f"{where}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        options = command.get("options") or []
        if len(options) > 25:
            raise _form_error(f"{where}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if len(command.get("choices") or []) > MAX_CHOICES:
            raise _form_error(f"{where}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for index, option in enumerate(options):
            self._validate_command({"type": 1, **option}, f"{where}.options.{index}")

    def _channel_or_404(self, request: web.Request) -> FakeChannel:
        channel = self.channels.get(self._int(request, "channel"))
        if channel is None or channel.deleted:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _message_or_404(self, request: web.Request, channel: FakeChannel) -> StoredMessage:
        message = self._messages.get(self._int(request, "message"))
        if message is None or message.deleted or message.ephemeral or message.channel_id != channel.id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _require(self, channel: FakeChannel, *names: str) -> None:
        """403 50001 without VIEW_CHANNEL, 403 50013 without the other named permissions (DMs always pass)."""
        if channel.guild_id is None:
            return
        have = self.permissions_for(self.bot_user.id, channel.id)
        if not have & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        need = _permission_bits(names)
        if have & need != need:
            raise ApiError(403, 50013, "Missing Permissions")

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        self._require(channel)
        return _json_response(channel.payload())

    async def _typing(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        self._require(channel, "send_messages")
        return web.Response(status=204)

    async def _list_messages(self, request: web.Request) -> web.Response:
        """Newest first, honouring limit/before/after/around."""
        channel = self._channel_or_404(request)
        self._require(channel, "read_message_history")
        query = request.query
        limit = max(1, min(100, int(query.get("limit", 50))))
        messages = self.messages(channel.id)
        if "before" in query:
            messages = [m for m in messages if m.id < int(query["before"])]
        if "after" in query:
            messages = [m for m in messages if m.id > int(query["after"])][:limit]
        if "around" in query:
            around = int(query["around"])
            older = [m for m in messages if m.id <= around][-(limit // 2 + limit % 2) :]
            messages = older + [m for m in messages if m.id > around][: limit // 2]
        return _json_response([self._message_payload(m) for m in reversed(messages[-limit:])])

    async def _get_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        self._require(channel, "read_message_history")
        return _json_response(self._message_payload(self._message_or_404(request, channel)))

    async def _create_message(self, request: web.Request) -> web.Response:
        """Send as the bot; ``nonce`` + ``enforce_nonce`` within ``nonce_window`` returns the earlier message."""
        channel = self._channel_or_404(request)
        body = self._body(request)
        payload: JSON = body.json or {}
        needed = ["send_messages"]
        if body.files:
            needed.append("attach_files")
        if payload.get("embeds"):
            needed.append("embed_links")
        self._require(channel, *needed)
        nonce = payload.get("nonce")
        if nonce is not None and len(str(nonce)) > MAX_NONCE:
            raise _form_error("nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length.")
        key = (channel.id, str(nonce))
        if nonce is not None and payload.get("enforce_nonce") and key in self._nonces:
            message_id, at = self._nonces[key]
            if time.perf_counter() - at <= self.nonce_window:
                return _json_response(self._message_payload(self._messages[message_id]))
        message = await self._new_message(channel, payload, body.files)
        if nonce is not None and payload.get("enforce_nonce"):
            self._nonces[key] = (message.id, time.perf_counter())
        return _json_response(self._message_payload(message))

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        self._require(channel)
        message = self._message_or_404(request, channel)
        if message.author.id != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body = self._body(request)
        return _json_response(self._message_payload(await self._apply_edit(message, body.json or {}, body.files)))

    async def _delete_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        message = self._message_or_404(request, channel)
        self._require(channel, *(() if message.author.id == self.bot_user.id else ("manage_messages",)))
        await self._mark_deleted(message)
        return web.Response(status=204)

    async def _add_own_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        message = self._message_or_404(request, channel)
        key = _emoji_key(request.match_info["emoji"])
        users = message.reactions.get(key, [])
        self._require(channel, "read_message_history", *(() if users else ("add_reactions",)))
        if self.bot_user.id not in users:
            message.reactions[key] = [*users, self.bot_user.id]
            event = self._reaction_event(message, self.bot_user.id, key, add=True)
            await self._dispatch("MESSAGE_REACTION_ADD", event)
        return web.Response(status=204)

    async def _remove_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        message = self._message_or_404(request, channel)
        user_id = self._int(request, "user") if "user" in request.match_info else self.bot_user.id
        self._require(channel, *(() if user_id == self.bot_user.id else ("manage_messages",)))
        key = _emoji_key(request.match_info["emoji"])
        users = message.reactions.get(key, [])
        if user_id in users:
            users.remove(user_id)
            if not users:
                del message.reactions[key]
            await self._dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(message, user_id, key, add=False))
        return web.Response(status=204)

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        attachment = self._attachments.get(self._int(request, "attachment"))
        if (
            attachment is None
            or attachment.channel_id != self._int(request, "channel")
            or attachment.filename != request.match_info["filename"]
        ):
            raise web.HTTPNotFound()
        return web.Response(body=attachment.data, content_type=attachment.content_type or "application/octet-stream")

    def _store_attachment(
        self, channel_id: int, filename: str, data: bytes, description: str | None = None, *, ephemeral: bool = False
    ) -> StoredAttachment:
        attachment_id = self.snowflakes.next()
        attachment = StoredAttachment(
            id=attachment_id,
            channel_id=channel_id,
            filename=filename,
            data=data,
            content_type=mimetypes.guess_type(filename)[0],
            url=f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}",
            description=description,
            ephemeral=ephemeral,
        )
        self._attachments[attachment_id] = attachment
        return attachment

    def _check_limits(self, channel: FakeChannel, payload: JSON, files: Sequence[UploadedFile]) -> None:
        """413 / 40005 for a file over the upload limit; 400 / 50035 for content, embed and attachment limits."""
        limit = self._upload_limit(channel)
        if any(len(f.data) > limit for f in files):
            raise ApiError(413, 40005, "Request entity too large")
        if len(payload.get("content") or "") > MAX_CONTENT:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > MAX_EMBEDS:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
        if sum(_embed_length(e) for e in embeds) > MAX_EMBED_CHARS:
            raise _form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        for index, embed in enumerate(embeds):
            for where, message in _embed_problems(embed):
                raise _form_error(f"embeds.{index}.{where}", "BASE_TYPE_BAD_LENGTH", message)
        for where, message in _component_problems(payload.get("components") or []):
            raise _form_error(where, "BASE_TYPE_BAD_LENGTH", message)
        if len(payload.get("attachments") or files) > MAX_ATTACHMENTS:
            raise _form_error("attachments", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_ATTACHMENTS} or fewer in length.")

    def _attachments_for(
        self,
        channel: FakeChannel,
        spec: list[JSON] | None,
        files: Sequence[UploadedFile],
        existing: list[StoredAttachment],
    ) -> list[StoredAttachment]:
        """Resolve a payload's ``attachments`` list: ``{"id": N}`` is the upload ``files[N]``, an existing
        attachment id keeps that attachment, and leaving an attachment out removes it."""
        if spec is None:
            return existing + [self._store_attachment(channel.id, f.filename, f.data) for f in files]
        uploads = {f.name: f for f in files}
        current = {a.id: a for a in existing}
        result = []
        for index, item in enumerate(spec):
            upload = uploads.get(f"files[{item['id']}]")
            if upload is not None:
                filename = item.get("filename") or upload.filename
                result.append(self._store_attachment(channel.id, filename, upload.data, item.get("description")))
            elif int(item["id"]) in current:
                result.append(current[int(item["id"])])
            else:
                raise _form_error(f"attachments.{index}.id", "ATTACHMENT_NOT_FOUND", "Unknown attachment.")
        return result

    async def _new_message(
        self,
        channel: FakeChannel,
        payload: JSON,
        files: Sequence[UploadedFile],
        *,
        interaction: InteractionRecord | None = None,
    ) -> StoredMessage:
        """Validate and store a message sent by the bot (or in its name through an interaction)."""
        self._check_limits(channel, payload, files)
        has_body = payload.get("content") or payload.get("embeds") or payload.get("components")
        if not (has_body or files or payload.get("sticker_ids") or payload.get("poll")):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = StoredMessage(
            id=self.snowflakes.next(),
            channel_id=channel.id,
            author=self.bot_user,
            reply_to=self._replied_message(channel, payload.get("message_reference")),
            content=payload.get("content") or "",
            embeds=list(payload.get("embeds") or []),
            attachments=self._attachments_for(channel, payload.get("attachments"), files, []),
            components=list(payload.get("components") or []),
            nonce=payload.get("nonce"),
            allowed_mentions=payload.get("allowed_mentions"),
            flags=payload.get("flags") or 0,
            tts=bool(payload.get("tts")),
            interaction=interaction,
        )
        return await self._store_message(message)

    def _replied_message(self, channel: FakeChannel, reference: JSON | None) -> int | None:
        """The id a reply points at; a reply to a missing message fails unless ``fail_if_not_exists`` is false."""
        if not reference or reference.get("message_id") is None:
            return None
        target = self._messages.get(int(reference["message_id"]))
        if target is not None and not target.deleted and target.channel_id == channel.id:
            return target.id
        if reference.get("fail_if_not_exists", True):
            raise _form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        return None

    async def _store_message(self, message: StoredMessage) -> StoredMessage:
        self._messages[message.id] = message
        if not message.ephemeral:
            self.channels[message.channel_id].last_message_id = message.id
            await self._dispatch("MESSAGE_CREATE", self._message_payload(message, gateway=True))
        await self._notify()
        return message

    async def _apply_edit(self, message: StoredMessage, payload: JSON, files: Sequence[UploadedFile]) -> StoredMessage:
        """Edit in place (absent fields stay), keep the previous version, clear the loading flag."""
        channel = self.channels[message.channel_id]
        self._check_limits(channel, payload, files)
        attachments = self._attachments_for(channel, payload.get("attachments"), files, message.attachments)
        content = (payload["content"] or "") if "content" in payload else message.content
        embeds = (payload["embeds"] or []) if "embeds" in payload else message.embeds
        components = (payload["components"] or []) if "components" in payload else message.components
        if not (content or embeds or attachments or components):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if not message.loading:
            message.edits.append(message.snapshot())
            message.edited_at = _now()
        message.content, message.embeds, message.components = content, list(embeds), list(components)
        message.attachments = attachments
        flags = payload.get("flags", message.flags) or 0
        message.flags = (flags & ~(FLAG_EPHEMERAL | FLAG_LOADING)) | (message.flags & FLAG_EPHEMERAL)
        if "allowed_mentions" in payload:
            message.allowed_mentions = payload["allowed_mentions"]
        if not message.ephemeral:
            await self._dispatch("MESSAGE_UPDATE", self._message_payload(message, gateway=True))
        await self._notify()
        return message

    async def _mark_deleted(self, message: StoredMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            event: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            guild_id = self.channels[message.channel_id].guild_id
            if guild_id is not None:
                event["guild_id"] = str(guild_id)
            await self._dispatch("MESSAGE_DELETE", event)
        await self._notify()

    def _upload_limit(self, channel: FakeChannel) -> int:
        return self.upload_limit if channel.guild_id is not None else DEFAULT_UPLOAD_LIMIT

    def _render_embed(self, embed: JSON, attachments: Sequence[StoredAttachment]) -> JSON:
        """Resolve ``attachment://name`` media urls to the uploaded file, as Discord does in its answers."""
        rendered = {"type": "rich", **embed}
        by_name = {a.filename: a for a in attachments}
        for key, url_field in (("image", "url"), ("thumbnail", "url"), ("author", "icon_url"), ("footer", "icon_url")):
            media: JSON = embed.get(key) or {}
            filename = str(media.get(url_field, "")).removeprefix("attachment://")
            if media.get(url_field, "").startswith("attachment://") and filename in by_name:
                target = by_name[filename].url
                rendered[key] = {**media, url_field: target, f"proxy_{url_field}": target}
        return rendered

    def _message_payload(self, message: StoredMessage, *, gateway: bool = False) -> JSON:
        """The message object of REST answers, or of MESSAGE_CREATE/UPDATE (plus guild_id and member)."""
        data: JSON = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": message.author.payload(),
            "content": message.content,
            "timestamp": _iso(message.created_at),
            "edited_timestamp": None if message.edited_at is None else _iso(message.edited_at),
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.payload() for a in message.attachments],
            "embeds": [self._render_embed(e, message.attachments) for e in message.embeds],
            "components": message.components,
            "pinned": False,
            "type": 20 if message.interaction is not None and message.interaction.type == 2 else 0,
            "flags": message.flags,
        }
        if message.nonce is not None:
            data["nonce"] = message.nonce
        if message.reply_to is not None:
            data["type"] = 19
            data["message_reference"] = {"message_id": str(message.reply_to), "channel_id": str(message.channel_id)}
        if message.reactions:
            data["reactions"] = [
                {
                    "emoji": _emoji_payload(key),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot_user.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for key, users in message.reactions.items()
                if users
            ]
        if message.interaction is not None:
            record = message.interaction
            data["webhook_id"] = data["application_id"] = str(self.application_id)
            data["interaction_metadata"] = {
                "id": str(record.id),
                "type": record.type,
                "user": record.user.payload(),
                "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
            }
        channel = self.channels[message.channel_id]
        if gateway and channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            author = self.members.get(message.author.id)
            if author is not None:
                data["member"] = author.payload(with_user=False)
        return data

    def _reaction_event(self, message: StoredMessage, user_id: int, key: str, *, add: bool) -> JSON:
        event: JSON = {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": _emoji_payload(key),
            "burst": False,
            "type": 0,
        }
        guild_id = self.channels[message.channel_id].guild_id
        if guild_id is not None:
            event["guild_id"] = str(guild_id)
        if add:
            event |= {"burst_colors": [], "message_author_id": str(message.author.id)}
            if guild_id is not None and user_id in self.members:
                event["member"] = self.members[user_id].payload()
        return event
