"""A fake of a provider's public CDN (Suno's `{base}/{clip id}.mp3`, covers): serves the files a test registers by
name, with their content type, and 404 for the rest."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class FakeSunoCdn:
    """One aiohttp server on 127.0.0.1; `files` maps a name to its bytes and content type, and `requests` lists
    every path asked for, in order."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def put(self, clip_id: str, data: bytes) -> None:
        """A clip's mp3, at `{base}/{clip_id}.mp3`."""
        self.files[f"{clip_id}.mp3"] = (data, "audio/mpeg")

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/{name}", self._serve)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=found[0], content_type=found[1])
