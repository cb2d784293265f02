"""Downloads of provider media that refuse private addresses, non-media content and slow or endless transfers.

Provider and webhook answers choose the URLs, so every hop is checked: the URL itself (scheme, literal address),
the addresses its name resolves to (in the connector's resolver, after DNS), and the address each socket connects
to (in the connector's socket factory, which also covers literal addresses that aiohttp never sends to the
resolver). Origins the operator trusts (the provider, the Discord API, local fakes) may be private.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections import deque
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from bot.media.addresses import DEFAULT_PORTS, Origin, is_public_address, origin_of
from bot.media.sniff import SNIFF_BYTES, sniff_audio, sniff_image

MediaKind = Literal["audio", "image"]

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024
# CDNs label audio vaguely; these are accepted only when the bytes also sniff as audio.
GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
AUDIO_TYPES = frozenset({"application/ogg"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif"})
ACCEPT = {"audio": "audio/*, application/octet-stream;q=0.5", "image": "image/png, image/jpeg, image/webp, image/gif"}
KIND_NOUN = {"audio": "audio", "image": "an image"}


class MediaRefused(Exception):
    """A download that was refused or failed; `reason` is short and fit to show to the requester."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaTooLarge(MediaRefused):
    """The file is larger than the caller can take (for a result: the channel's upload limit); a link may do."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A complete download on disk, with the content type the server declared and the URL after redirects."""

    path: Path
    size: int
    content_type: str
    final_url: str


def is_safe_embed_url(url: str | None) -> bool:
    """True for an http(s) URL with a host: Discord refuses any other embed URL (50035), and the message with it."""
    if not url or len(url) > 2048 or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return False
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return (parsed.scheme or "").lower() in DEFAULT_PORTS and bool(parsed.host)


@dataclass(slots=True)
class _Hop:
    """What the connector may connect to for the request in flight; shared with the resolver and socket factory."""

    trusted: Origin | None
    trusted_ips: set[str] = field(default_factory=set)
    refused: bool = False


# Unset (None) means "public addresses only", so a connection made outside `fetch` fails closed.
_HOP: ContextVar[_Hop | None] = ContextVar("media_hop", default=None)


class _PrivateAddressError(OSError):
    """Raised inside the connector; aiohttp wraps it in a ClientConnectorError."""


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.replace("%25", "%"))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """Delegates DNS to `inner` and refuses a name with any non-public address unless its origin is trusted."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        # The system's resolver, not aiohttp's default: with aiodns installed (discord.py's speed extra) that is
        # c-ares, which fails on spellings such as 0x7f.0.0.1 instead of resolving them for the check to refuse.
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        hop = _HOP.get()
        if hop is not None and hop.trusted is not None and (hop.trusted.host, hop.trusted.port) == (host.lower(), port):
            hop.trusted_ips.update(result["host"] for result in results)
            return results
        if not results or not all(is_public_address(result["host"]) for result in results):
            if hop is not None:
                hop.refused = True
            raise _PrivateAddressError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _guarded_socket(addr_info: AddrInfoType) -> socket.socket:
    """The last check before connecting; it sees literal addresses too, which aiohttp does not resolve."""
    family, type_, proto, _, address = addr_info
    ip, port = str(address[0]), int(address[1])
    if not is_public_address(ip):
        hop = _HOP.get()
        trusted = hop is not None and hop.trusted is not None and hop.trusted.port == port
        if not (trusted and hop is not None and (ip in hop.trusted_ips or _same_ip(ip, hop.trusted))):
            if hop is not None:
                hop.refused = True
            raise _PrivateAddressError(f"{ip} is not a public address")
    return socket.socket(family=family, type=type_, proto=proto)


def _same_ip(ip: str, origin: Origin | None) -> bool:
    literal = _ip_literal(origin.host) if origin is not None else None
    return literal is not None and literal == _ip_literal(ip)


def _discard(path: Path) -> None:
    """Remove a partial download; a sync helper because it is one quick call on failure."""
    path.unlink(missing_ok=True)


def _size(count: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.4g} {unit}"
    return f"{count:.4g} bytes"


class MediaFetcher:
    """One session for all media downloads (opened on the first fetch); close it once when the bot stops.

    `trusted_origins` may be private (the provider, the Discord API, test fakes); every other address must be
    public. `grace` seconds after the headers the rate is first checked, averaged over the last `window` seconds.
    `resolver` is the DNS resolver to delegate to (the system's, through a thread, when None).
    """

    def __init__(
        self,
        trusted_origins: Iterable[Origin] = (),
        *,
        grace: float = 5.0,
        window: float = 5.0,
        connect_timeout: float = 15.0,
        max_redirects: int = MAX_REDIRECTS,
        user_agent: str = "Encore",
        resolver: AbstractResolver | None = None,
    ) -> None:
        if grace < 0 or window <= 0:
            raise ValueError("grace must be >= 0 and window > 0")
        self.trusted_origins = frozenset(trusted_origins)
        self.grace = grace
        self.window = window
        self.max_redirects = max_redirects
        self._connect_timeout = connect_timeout
        self._user_agent = user_agent
        self._inner_resolver = resolver
        self._tick = min(0.5, max(0.02, min(grace or window, window) / 4))
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    async def __aenter__(self) -> MediaFetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._resolver = GuardedResolver(self._inner_resolver)
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                # Every connection must go through the resolver check, so no cached answers.
                use_dns_cache=False,
                socket_factory=_guarded_socket,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                headers={"User-Agent": self._user_agent},
            )
        return self._session

    async def fetch(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int,
        kind: MediaKind,
        deadline: float = 120.0,
        min_rate: float = 16_384,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """Stream `url` to `dest`, following up to `max_redirects` checked redirects; MediaRefused on any failure.

        `headers` go to the first origin only, never to where it redirects. `dest` never holds a partial file.
        """
        try:
            async with asyncio.timeout(deadline) as timer:
                return await self._fetch(url, dest, max_bytes=max_bytes, kind=kind, min_rate=min_rate, headers=headers)
        except BaseException as error:
            _discard(dest)
            if isinstance(error, TimeoutError) and timer.expired():
                raise MediaRefused(f"the download took longer than {deadline:g} s") from error
            raise

    def _check_url(self, url: URL, kind: MediaKind, redirected: bool) -> tuple[Origin, _Hop]:
        """Refuse a URL before connecting; the connector repeats the address checks after DNS."""
        try:
            origin = origin_of(url)
        except ValueError:
            raise MediaRefused(
                "a redirect leads to something that is not an http(s) URL" if redirected else "not an http(s) URL"
            ) from None
        trusted = origin if origin in self.trusted_origins else None
        host = url.raw_host or ""
        literal = _ip_literal(host)
        if literal is None and (":" in host or host.replace(".", "").isdigit()):
            raise MediaRefused(f"the {kind} URL's host is not a valid address")
        if literal is not None and trusted is None and not is_public_address(literal):
            raise MediaRefused(self._private_reason(kind, redirected))
        return origin, _Hop(trusted=trusted)

    @staticmethod
    def _private_reason(kind: MediaKind, redirected: bool) -> str:
        return f"the {kind} URL {'redirects to' if redirected else 'points at'} a private address"

    async def _fetch(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int,
        kind: MediaKind,
        min_rate: float,
        headers: Mapping[str, str] | None,
    ) -> FetchResult:
        try:
            current = URL(url)
        except (ValueError, TypeError):
            raise MediaRefused("not an http(s) URL") from None
        session = self._get_session()
        first_origin: Origin | None = None
        for redirects in range(self.max_redirects + 1):
            origin, hop = self._check_url(current, kind, redirected=redirects > 0)
            first_origin = first_origin or origin
            request_headers = {"Accept": ACCEPT[kind]}
            if origin == first_origin and headers:
                request_headers.update(headers)
            token = _HOP.set(hop)
            try:
                async with session.get(current, allow_redirects=False, headers=request_headers) as response:
                    if response.status in REDIRECT_STATUSES:
                        current = self._next_url(current, response)
                        continue
                    return await self._receive(response, dest, max_bytes=max_bytes, kind=kind, min_rate=min_rate)
            except aiohttp.ClientError as error:
                if hop.refused:
                    raise MediaRefused(self._private_reason(kind, redirected=redirects > 0)) from error
                raise MediaRefused(f"the {kind} download failed ({type(error).__name__})") from error
            finally:
                _HOP.reset(token)
        raise MediaRefused(f"the {kind} URL redirects more than {self.max_redirects} times")

    @staticmethod
    def _next_url(current: URL, response: aiohttp.ClientResponse) -> URL:
        location = response.headers.get("Location")
        if not location:
            raise MediaRefused("the server redirected without saying where")
        try:
            return current.join(URL(location))
        except (ValueError, TypeError):
            raise MediaRefused("the server redirected to an invalid URL") from None

    async def _receive(
        self, response: aiohttp.ClientResponse, dest: Path, *, max_bytes: int, kind: MediaKind, min_rate: float
    ) -> FetchResult:
        if response.status != 200:
            raise MediaRefused(f"the {kind} server answered HTTP {response.status}")
        content_type = response.content_type.lower()
        accepted = (
            content_type.startswith("audio/") or content_type in AUDIO_TYPES or content_type in GENERIC_TYPES
            if kind == "audio"
            else content_type in IMAGE_TYPES
        )
        if not accepted:
            raise MediaRefused(f"the server sent {content_type}, not {KIND_NOUN[kind]}")
        if response.content_length is not None and response.content_length > max_bytes:
            raise MediaTooLarge(f"the file is larger than {_size(max_bytes)}")
        size = await self._stream(
            response, dest, max_bytes=max_bytes, kind=kind, content_type=content_type, min_rate=min_rate
        )
        return FetchResult(path=dest, size=size, content_type=content_type, final_url=str(response.url))

    async def _stream(
        self,
        response: aiohttp.ClientResponse,
        dest: Path,
        *,
        max_bytes: int,
        kind: MediaKind,
        content_type: str,
        min_rate: float,
    ) -> int:
        """Write the body to `dest`, sniffing its start and checking the rate even while no bytes arrive."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        recent: deque[tuple[float, int]] = deque()
        in_window = 0
        size = 0
        head = b""
        sniffed = False
        read: asyncio.Future[bytes] | None = None
        try:
            with dest.open("wb") as file:
                while True:
                    read = asyncio.ensure_future(response.content.readany())
                    while True:
                        done, _ = await asyncio.wait({read}, timeout=self._tick)
                        if done:
                            break
                        in_window = self._check_rate(loop.time(), started, recent, in_window, min_rate)
                    chunk = read.result()
                    read = None
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaTooLarge(f"the file is larger than {_size(max_bytes)}")
                    if not sniffed:
                        head += chunk[: SNIFF_BYTES - len(head)]
                        if len(head) >= SNIFF_BYTES:
                            self._check_sniff(head, kind, content_type)
                            sniffed = True
                    file.write(chunk)
                    now = loop.time()
                    recent.append((now, len(chunk)))
                    in_window += len(chunk)
                    in_window = self._check_rate(now, started, recent, in_window, min_rate)
            if not sniffed:
                self._check_sniff(head, kind, content_type)
        finally:
            if read is not None and not read.done():
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                    await read
        return size

    def _check_rate(
        self, now: float, started: float, recent: deque[tuple[float, int]], in_window: int, min_rate: float
    ) -> int:
        """Refuse when, after the grace period, the last `window` seconds averaged less than `min_rate`.

        `recent` holds (time, bytes) per chunk and `in_window` their sum; both are trimmed to the window here.
        """
        elapsed = now - started
        while recent and recent[0][0] < now - self.window:
            in_window -= recent.popleft()[1]
        if elapsed >= self.grace and elapsed > 0 and in_window < min_rate * min(self.window, elapsed):
            raise MediaRefused(f"the download was slower than {_size(min_rate)}/s")
        return in_window

    @staticmethod
    def _check_sniff(head: bytes, kind: MediaKind, content_type: str) -> None:
        looks_right = sniff_audio(head) if kind == "audio" else sniff_image(head) is not None
        if not looks_right:
            raise MediaRefused(f"the server sent {content_type} that does not look like {KIND_NOUN[kind]}")
