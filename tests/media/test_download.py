"""The media fetcher against real local servers: trusted and untrusted origins, redirects, content and pace."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from bot.media import MediaFetcher, MediaRefused, Origin, origin_of

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(2000)
MPEG_FRAMES = (bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(413)) * 5
HTML = b"<!DOCTYPE html><html><body>internal admin page</body></html>"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100)
MiB = 1024 * 1024


@dataclass
class Media:
    """One fake media server; `seen` holds the Authorization header of each request, by path."""

    server: TestServer
    seen: dict[str, str | None] = field(default_factory=dict)

    @property
    def port(self) -> int:
        port = self.server.port
        assert port is not None
        return port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def origin(self) -> Origin:
        return origin_of(self.url("/"))


def media_app(seen: dict[str, str | None]) -> web.Application:
    async def fixed(request: web.Request) -> web.Response:
        seen[request.path] = request.headers.get("Authorization")
        body, content_type = {
            "/song.mp3": (MP3, "audio/mpeg"),
            "/page": (HTML, "text/html"),
            "/json": (b'{"ok": true}', "application/json"),
            "/octet-html": (HTML, "application/octet-stream"),
            "/octet-mp3": (MPEG_FRAMES, "application/octet-stream"),
            "/binary-mp3": (MP3, "binary/octet-stream"),
            "/mpeg-html": (HTML, "audio/mpeg"),
            "/cover.png": (PNG, "image/png"),
            "/cover-html": (HTML, "image/png"),
            "/cover.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        }[request.path]
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def redirect(request: web.Request) -> web.Response:
        seen[request.path] = request.headers.get("Authorization")
        return web.Response(status=int(request.query.get("status", "302")), headers={"Location": request.query["to"]})

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"/loop?n={int(request.query.get('n', '0')) + 1}"})

    async def declared_large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg", "Content-Length": str(50 * MiB)})
        await response.prepare(request)
        await response.write(MP3[:100])
        await asyncio.sleep(60)  # a body the client must not wait for
        return response

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(MP3)
        chunk = bytes(64 * 1024)
        for _ in range(1000):
            await response.write(chunk)
        return response

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        for byte in MP3:
            await response.write(bytes([byte]))
            await asyncio.sleep(0.5)  # the slow peer being simulated
        return response

    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(60)  # a peer that never answers
        return web.Response()

    app = web.Application()
    for path in ("/song.mp3", "/page", "/json", "/octet-html", "/octet-mp3", "/binary-mp3", "/mpeg-html"):
        app.router.add_get(path, fixed)
    for path in ("/cover.png", "/cover-html", "/cover.svg"):
        app.router.add_get(path, fixed)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/declared-large", declared_large)
    app.router.add_get("/endless", endless)
    app.router.add_get("/trickle", trickle)
    app.router.add_get("/silent", silent)
    return app


async def start_media() -> Media:
    seen: dict[str, str | None] = {}
    server = TestServer(media_app(seen), host="127.0.0.1", port=0)
    await server.start_server()
    return Media(server, seen)


@pytest.fixture
async def trusted() -> AsyncIterator[Media]:
    media = await start_media()
    yield media
    await media.server.close()


@pytest.fixture
async def untrusted() -> AsyncIterator[Media]:
    media = await start_media()
    yield media
    await media.server.close()


@pytest.fixture
async def fetcher(trusted: Media) -> AsyncIterator[MediaFetcher]:
    async with MediaFetcher({trusted.origin}, grace=0.3, window=0.5) as media_fetcher:
        yield media_fetcher


async def refused(fetcher: MediaFetcher, url: str, dest: Path, **options: object) -> str:
    settings: dict[str, object] = {"max_bytes": 25 * MiB, "kind": "audio", **options}
    with pytest.raises(MediaRefused) as caught:
        await fetcher.fetch(url, dest, **settings)  # type: ignore[arg-type]
    assert no_file_at(dest)
    return caught.value.reason


def no_file_at(path: Path) -> bool:
    return not path.exists()


async def test_an_mp3_from_a_trusted_origin_downloads(fetcher: MediaFetcher, trusted: Media, tmp_path: Path) -> None:
    result = await fetcher.fetch(trusted.url("/song.mp3"), tmp_path / "a.mp3", max_bytes=25 * MiB, kind="audio")
    assert result.path.read_bytes() == MP3
    assert (result.size, result.content_type, result.final_url) == (len(MP3), "audio/mpeg", trusted.url("/song.mp3"))


async def test_the_same_server_untrusted_is_a_private_address(
    fetcher: MediaFetcher, untrusted: Media, tmp_path: Path
) -> None:
    reason = await refused(fetcher, untrusted.url("/song.mp3"), tmp_path / "a.mp3")
    assert reason == "the audio URL points at a private address"
    assert untrusted.seen == {}


async def test_a_trusted_origin_is_scheme_host_and_port(trusted: Media, tmp_path: Path) -> None:
    other_scheme = Origin("https", "127.0.0.1", trusted.port)
    other_port = Origin("http", "127.0.0.1", trusted.port + 1 if trusted.port < 65535 else trusted.port - 1)
    other_host = Origin("http", "localhost", trusted.port)
    async with MediaFetcher({other_scheme, other_port, other_host}) as fetcher:
        reason = await refused(fetcher, trusted.url("/song.mp3"), tmp_path / "a.mp3")
    assert reason == "the audio URL points at a private address"


async def test_a_name_that_resolves_to_loopback_is_refused_after_resolution(
    fetcher: MediaFetcher, untrusted: Media, tmp_path: Path
) -> None:
    reason = await refused(fetcher, untrusted.url("/song.mp3", host="localhost"), tmp_path / "a.mp3")
    assert reason == "the audio URL points at a private address"
    assert untrusted.seen == {}


async def test_a_name_listed_as_trusted_may_resolve_to_loopback(trusted: Media, tmp_path: Path) -> None:
    url = trusted.url("/song.mp3", host="localhost")
    async with MediaFetcher({origin_of(url)}) as fetcher:
        result = await fetcher.fetch(url, tmp_path / "a.mp3", max_bytes=MiB, kind="audio")
    assert result.size == len(MP3)


class StaticResolver(AbstractResolver):
    """Answers from a table instead of DNS, and records what it was asked."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"unknown host {host}")
        address = self.table[host]
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


async def test_a_public_looking_name_with_a_private_address_is_refused(untrusted: Media, tmp_path: Path) -> None:
    resolver = StaticResolver({"cdn.example": "127.0.0.1", "meta.example": "169.254.169.254"})
    async with MediaFetcher(resolver=resolver) as fetcher:
        reason = await refused(fetcher, untrusted.url("/song.mp3", host="cdn.example"), tmp_path / "a.mp3")
        assert reason == "the audio URL points at a private address"
        reason = await refused(fetcher, "http://meta.example/latest/meta-data", tmp_path / "a.mp3")
        assert reason == "the audio URL points at a private address"
    assert resolver.asked == ["cdn.example", "meta.example"]
    assert untrusted.seen == {}


async def test_literal_addresses_skip_the_resolver_so_the_socket_is_checked_too(
    trusted: Media, untrusted: Media, tmp_path: Path
) -> None:
    """aiohttp never asks the resolver about literal addresses; the socket factory still refuses them."""
    resolver = StaticResolver({})
    async with MediaFetcher({trusted.origin}, resolver=resolver) as fetcher:
        await fetcher.fetch(trusted.url("/song.mp3"), tmp_path / "a.mp3", max_bytes=MiB, kind="audio")
        assert resolver.asked == []
        # Bypass the URL check in `fetch`: the connector alone must refuse the untrusted loopback port.
        session = fetcher._get_session()
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(untrusted.url("/song.mp3"))
    async with MediaFetcher({trusted.origin}) as fetcher:
        with pytest.raises(aiohttp.ClientConnectorError):
            await fetcher._get_session().get(trusted.url("/song.mp3"))  # trust is only granted inside `fetch`
    assert untrusted.seen == {}
    assert trusted.seen == {"/song.mp3": None}


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"])
async def test_other_spellings_of_loopback_are_refused(
    fetcher: MediaFetcher, untrusted: Media, tmp_path: Path, host: str
) -> None:
    reason = await refused(fetcher, untrusted.url("/song.mp3", host=host), tmp_path / "a.mp3")
    assert "private address" in reason or "not a valid address" in reason
    assert untrusted.seen == {}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_from_a_trusted_origin_to_untrusted_loopback_is_refused(
    fetcher: MediaFetcher, trusted: Media, untrusted: Media, tmp_path: Path, status: int
) -> None:
    url = trusted.url(f"/redirect?status={status}&to={untrusted.url('/song.mp3')}")
    assert await refused(fetcher, url, tmp_path / "a.mp3") == "the audio URL redirects to a private address"
    assert untrusted.seen == {}


async def test_a_redirect_within_the_trusted_origin_is_followed(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path
) -> None:
    result = await fetcher.fetch(trusted.url("/redirect?to=/song.mp3"), tmp_path / "a.mp3", max_bytes=MiB, kind="audio")
    assert result.final_url == trusted.url("/song.mp3")
    assert result.path.read_bytes() == MP3


@pytest.mark.parametrize("target", ["file:///etc/passwd", "javascript:alert(1)", "gopher://127.0.0.1:70/x"])
async def test_a_redirect_to_another_scheme_is_refused(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path, target: str
) -> None:
    reason = await refused(fetcher, trusted.url(f"/redirect?to={target}"), tmp_path / "a.mp3")
    assert reason == "a redirect leads to something that is not an http(s) URL"


async def test_too_many_redirects_are_refused(fetcher: MediaFetcher, trusted: Media, tmp_path: Path) -> None:
    assert (
        await refused(fetcher, trusted.url("/loop"), tmp_path / "a.mp3") == "the audio URL redirects more than 5 times"
    )


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://cdn.example/a.mp3", "/a.mp3", ""])
async def test_urls_that_are_not_http_are_refused(fetcher: MediaFetcher, tmp_path: Path, url: str) -> None:
    assert await refused(fetcher, url, tmp_path / "a.mp3") == "not an http(s) URL"


async def test_caller_headers_do_not_follow_a_redirect_to_another_origin(
    trusted: Media, untrusted: Media, tmp_path: Path
) -> None:
    async with MediaFetcher({trusted.origin, untrusted.origin}) as fetcher:
        await fetcher.fetch(
            trusted.url(f"/redirect?to={untrusted.url('/song.mp3')}"),
            tmp_path / "a.mp3",
            max_bytes=MiB,
            kind="audio",
            headers={"Authorization": "Bot secret"},
        )
    assert trusted.seen == {"/redirect": "Bot secret"}
    assert untrusted.seen == {"/song.mp3": None}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page", "the server sent text/html, not audio"),
        ("/json", "the server sent application/json, not audio"),
        ("/cover.png", "the server sent image/png, not audio"),
        ("/octet-html", "the server sent application/octet-stream that does not look like audio"),
        ("/mpeg-html", "the server sent audio/mpeg that does not look like audio"),
    ],
)
async def test_content_that_is_not_audio_is_refused(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path, path: str, reason: str
) -> None:
    assert await refused(fetcher, trusted.url(path), tmp_path / "a.mp3") == reason


@pytest.mark.parametrize(("path", "body"), [("/octet-mp3", MPEG_FRAMES), ("/binary-mp3", MP3)])
async def test_octet_stream_that_sniffs_as_audio_is_accepted(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path, path: str, body: bytes
) -> None:
    result = await fetcher.fetch(trusted.url(path), tmp_path / "a.mp3", max_bytes=MiB, kind="audio")
    assert result.path.read_bytes() == body


async def test_a_cover_image_downloads_and_non_images_are_refused(
    fetcher: MediaFetcher, trusted: Media, untrusted: Media, tmp_path: Path
) -> None:
    result = await fetcher.fetch(trusted.url("/cover.png"), tmp_path / "c.png", max_bytes=MiB, kind="image")
    assert (result.path.read_bytes(), result.content_type) == (PNG, "image/png")
    dest = tmp_path / "c.png"
    assert await refused(fetcher, trusted.url("/cover.svg"), dest, kind="image") == (
        "the server sent image/svg+xml, not an image"
    )
    assert await refused(fetcher, trusted.url("/cover-html"), dest, kind="image") == (
        "the server sent image/png that does not look like an image"
    )
    assert await refused(fetcher, trusted.url("/song.mp3"), dest, kind="image") == (
        "the server sent audio/mpeg, not an image"
    )
    assert await refused(fetcher, untrusted.url("/cover.png"), dest, kind="image") == (
        "the image URL points at a private address"
    )


async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path
) -> None:
    started = time.monotonic()
    reason = await refused(fetcher, trusted.url("/declared-large"), tmp_path / "a.mp3", deadline=10.0)
    assert reason == "the file is larger than 25 MiB"
    assert time.monotonic() - started < 5  # the body never arrives, so reading it would hit the deadline


async def test_a_stream_over_the_limit_is_aborted(fetcher: MediaFetcher, trusted: Media, tmp_path: Path) -> None:
    reason = await refused(fetcher, trusted.url("/endless"), tmp_path / "a.mp3", max_bytes=MiB)
    assert reason == "the file is larger than 1 MiB"


async def test_a_trickling_server_is_refused_after_the_grace_period(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path
) -> None:
    started = time.monotonic()
    reason = await refused(fetcher, trusted.url("/trickle"), tmp_path / "a.mp3", min_rate=1000)
    assert reason == "the download was slower than 1000 bytes/s"
    assert time.monotonic() - started < fetcher.grace + fetcher.window + 1.0


async def test_a_server_that_never_answers_is_refused_at_the_deadline(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path
) -> None:
    started = time.monotonic()
    reason = await refused(fetcher, trusted.url("/silent"), tmp_path / "a.mp3", deadline=0.5)
    assert reason == "the download took longer than 0.5 s"
    assert time.monotonic() - started < 2.0


async def test_a_failed_download_replaces_nothing_with_a_partial_file(
    fetcher: MediaFetcher, trusted: Media, tmp_path: Path
) -> None:
    dest = tmp_path / "a.mp3"
    dest.write_bytes(b"stale")
    await refused(fetcher, trusted.url("/endless"), dest, max_bytes=MiB)
    assert no_file_at(dest)


async def test_an_unreachable_server_is_a_refusal(fetcher: MediaFetcher, trusted: Media, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with MediaFetcher({Origin("http", "127.0.0.1", port)}) as closed:
        reason = await refused(closed, f"http://127.0.0.1:{port}/a.mp3", tmp_path / "a.mp3")
    assert reason == "the audio download failed (ClientConnectorError)"
