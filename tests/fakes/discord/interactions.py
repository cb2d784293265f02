"""Interaction callbacks and the interaction webhook (original response, follow-ups), as discord.py calls them."""

from __future__ import annotations

import time

from aiohttp import web

from tests.fakes.discord.parts import FakeDiscordParts
from tests.fakes.discord.state import (
    ALLOWED_CALLBACKS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON,
    MAX_CHOICES,
    ApiError,
    CallbackRecord,
    InteractionRecord,
    StoredMessage,
    _form_error,
    _json_response,
)


class InteractionsMixin(FakeDiscordParts):
    """The interaction endpoints of `FakeDiscord`."""

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        """Acknowledge an interaction once, within the deadline; 200 + resource with ``?with_response``."""
        record = next((r for r in self.interactions if r.id == self._int(request, "interaction")), None)
        if record is None or record.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        body = self._body(request)
        callback = CallbackRecord(body.json["type"], body.json.get("data") or {}, time.perf_counter(), body.files)
        record.callbacks.append(callback)
        try:
            if record.response is not None:
                raise ApiError(400, 40060, "Interaction has already been acknowledged.")
            if callback.at - record.created_at > self.interaction_deadline:
                raise ApiError(404, 10062, "Unknown interaction")
            if callback.type not in ALLOWED_CALLBACKS[record.type]:
                raise _form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type.")
            message = await self._apply_callback(record, callback)
        except ApiError as error:
            callback.status, callback.code = error.status, error.code
            raise
        record.response = callback
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        interaction: JSON = {
            "id": str(record.id),
            "type": record.type,
            "response_message_loading": callback.type == 5,
            "response_message_ephemeral": message is not None and message.ephemeral,
        }
        resource: JSON = {"type": callback.type}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            resource["message"] = self._message_payload(message)
        return _json_response({"interaction": interaction, "resource": resource})

    async def _apply_callback(self, record: InteractionRecord, callback: CallbackRecord) -> StoredMessage | None:
        """Carry out an accepted callback; returns the message it created or updated."""
        channel = self.channels[record.channel_id]
        data = callback.data
        match callback.type:
            case 4:
                message = await self._new_message(channel, data, callback.files, interaction=record)
                record.original_id = message.id
                return message
            case 5:
                flags = FLAG_LOADING | (data.get("flags", 0) & FLAG_EPHEMERAL)
                message = await self._store_message(
                    StoredMessage(self.snowflakes.next(), channel.id, self.bot_user, flags=flags, interaction=record)
                )
                record.original_id = message.id
                return message
            case 6 | 7:
                record.original_id = record.message_id
                component_message = None if record.message_id is None else self._messages[record.message_id]
                if callback.type == 7 and component_message is not None:
                    await self._apply_edit(component_message, data, callback.files)
                return component_message
            case 8:
                if len(data.get("choices", [])) > MAX_CHOICES:
                    raise _form_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                record.choices = list(data.get("choices", []))
            case 9:
                record.modal = data
                self._modals[data["custom_id"]] = record
        return None

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        if self._int(request, "app") != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        record = next((r for r in self.interactions if r.token == request.match_info["token"]), None)
        if record is None or not record.token_valid():
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return record

    def _webhook_message(self, request: web.Request, record: InteractionRecord) -> StoredMessage:
        message_id = record.original_id if "message" not in request.match_info else self._int(request, "message")
        if message_id is not None and (message_id == record.original_id or message_id in record.followup_ids):
            message = self._messages.get(message_id)
            if message is not None and not message.deleted:
                return message
        raise ApiError(404, 10008, "Unknown Message")

    async def _create_followup(self, request: web.Request) -> web.StreamResponse:
        """A follow-up; the first one after a "thinking" defer resolves the loading original instead
        (its flags are ignored; ephemerality comes from the defer)."""
        record = self._webhook_record(request)
        if record.response is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        body = self._body(request)
        original = record.original
        if record.response.type == 5 and original is not None and original.loading:
            payload = {k: v for k, v in body.json.items() if k != "flags"}
            message = await self._apply_edit(original, payload, body.files)
        else:
            message = await self._new_message(
                self.channels[record.channel_id], body.json, body.files, interaction=record
            )
            record.followup_ids.append(message.id)
        if request.query.get("wait") in ("1", "true", "True"):
            return _json_response(self._message_payload(message))
        return web.Response(status=204)

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        return _json_response(self._message_payload(self._webhook_message(request, record)))

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        body = self._body(request)
        message = await self._apply_edit(self._webhook_message(request, record), body.json or {}, body.files)
        return _json_response(self._message_payload(message))

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        await self._mark_deleted(self._webhook_message(request, record))
        return web.Response(status=204)
