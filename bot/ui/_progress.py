"""The requester's deferred reply, edited as the task moves: at most once per interval, the latest text wins."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import aiohttp
import discord

log = logging.getLogger(__name__)


class ProgressReplies:
    """Edits each requester's deferred reply as their task moves, at most once per `min_interval`."""

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._replies: dict[int, _Reply] = {}

    def track(self, task_id: int, interaction: discord.Interaction, note: str | None = None) -> None:
        """Follow a task in this reply, which has just been written: the next edit waits out the interval.

        `note` (what Encore made of the request) stays above every later status line.
        """
        self._replies[task_id] = _Reply(interaction, last_edit=time.monotonic(), note=note)

    def tracks(self, task_id: int) -> bool:
        return task_id in self._replies

    async def update(self, task_id: int, text: str, *, final: bool = False) -> None:
        """Show `text` (in the background, within the interval); the latest text wins. A final text is shown at
        once and ends the tracking."""
        reply = self._replies.get(task_id)
        if reply is None:
            return
        reply.pending = text
        if final:
            if reply.timer:
                reply.timer.cancel()
            self._replies.pop(task_id, None)
            await self._flush(reply)
            return
        if reply.timer is None:
            # Never edited inline: the submit loop and the poll lock must not wait on Discord.
            wait = max(0.0, reply.last_edit + self.min_interval - time.monotonic())
            reply.timer = asyncio.create_task(self._flush_later(reply, wait))

    async def _flush_later(self, reply: _Reply, wait: float) -> None:
        await asyncio.sleep(wait)
        reply.timer = None
        await self._flush(reply)

    async def _flush(self, reply: _Reply) -> None:
        text, reply.pending = reply.pending, None
        if text is None or reply.interaction.is_expired():
            return
        reply.last_edit = time.monotonic()
        try:
            await reply.interaction.edit_original_response(content=f"{reply.note}\n{text}" if reply.note else text)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            log.debug("could not edit a progress reply: %s", error)

    def close(self) -> None:
        for reply in self._replies.values():
            if reply.timer:
                reply.timer.cancel()
        self._replies.clear()


@dataclass(slots=True)
class _Reply:
    interaction: discord.Interaction
    last_edit: float = 0.0
    pending: str | None = None
    note: str | None = None
    timer: asyncio.Task[None] | None = field(default=None)
