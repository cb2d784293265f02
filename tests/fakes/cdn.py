"""A fake of Suno's public CDN (`{base}/{clip id}.mp3`): serves the bytes a test registers, 404 for the rest."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class FakeSunoCdn:
    """One aiohttp server on 127.0.0.1; `requests` lists every path asked for, in order."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def put(self, clip_id: str, data: bytes) -> None:
        self.files[clip_id] = data

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.add_routes([web.get("/{clip_id}.mp3", self._serve)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.Response:
        clip_id = request.match_info["clip_id"]
        self.requests.append(request.path)
        if clip_id not in self.files:
            return web.Response(status=404, text="not found")
        return web.Response(body=self.files[clip_id], content_type="audio/mpeg")
