"""A local receiver for the webhooks (callbacks) a provider fake sends: what it got, byte for byte."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ReceivedPost:
    """One POST as it arrived: its headers (names in lower case) and its exact body."""

    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


@asynccontextmanager
async def webhook_receiver(status: int = 200) -> AsyncIterator[tuple[str, list[ReceivedPost]]]:
    """A tiny server on 127.0.0.1 that answers `status` to POSTs on `/hook`; yields (its URL, what it received)."""
    received: list[ReceivedPost] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(ReceivedPost({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/hook", received
    finally:
        await runner.cleanup()
