"""A bound on the web server's open connections, so slow or half-sent requests cannot use up the file limit.

Each connection holds a file descriptor. aiohttp closes a connection whose request is not complete within its
keep-alive timeout, but until then any number of them may be open: about a thousand half-sent requests used to
exhaust a service manager's default limit of 1,024 open files, and then the database, Discord and the provider
could not be reached either. Here at most `limit` connections are open at once; a new one closes the one open
longest (a healthy request takes milliseconds, so the oldest is the stuck one), and `/healthz` keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import cast

from aiohttp import web

log = logging.getLogger(__name__)

# At most this share of the process's open-files limit goes to web connections: the rest is for the database,
# Discord, the provider, media downloads and the connections the kernel has accepted but the loop not yet seen.
FILE_LIMIT_SHARE = 4
MAX_BACKLOG = 128
EVICTION_LOG_SECONDS = 60.0


def connection_cap(configured: int) -> int:
    """The connections the web server may keep open: `configured`, within a quarter of the open-files limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft // FILE_LIMIT_SHARE))


class ConnectionCap:
    """The open connections, oldest first; over `limit`, the oldest is closed. Logs a summary once a minute."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("the web server needs room for at least one connection")
        self.limit = limit
        self._open: dict[CappedConnection, asyncio.Transport] = {}
        self._clock = clock
        self._evicted = 0
        self._logged_at: float | None = None

    def wrap(self, protocol: asyncio.Protocol) -> CappedConnection:
        return CappedConnection(protocol, self)

    def opened(self, connection: CappedConnection, transport: asyncio.Transport) -> None:
        self._open[connection] = transport
        while len(self._open) > self.limit:
            oldest = next(iter(self._open))
            self._open.pop(oldest).abort()  # its descriptor is released now, not after a polite close
            self._evicted += 1
        if self._evicted:
            self._log_evictions()

    def closed(self, connection: CappedConnection) -> None:
        self._open.pop(connection, None)

    def _log_evictions(self) -> None:
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= EVICTION_LOG_SECONDS:
            log.warning(
                "web server: %d connection(s) open longest were closed to stay within %d open connections "
                "(WEB_MAX_CONNECTIONS); a client is opening many and not finishing its requests",
                self._evicted,
                self.limit,
            )
            self._evicted, self._logged_at = 0, now


class CappedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted by a `ConnectionCap` from open to close."""

    def __init__(self, inner: asyncio.Protocol, cap: ConnectionCap) -> None:
        self._inner = inner
        self._cap = cap

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._cap.opened(self, cast(asyncio.Transport, transport))  # a TCP server's transports are streams
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cap.closed(self)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class CappedSite(web.BaseSite):
    """aiohttp's TCP site with its connections held to a `ConnectionCap`."""

    __slots__ = ("_cap", "_host", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, cap: ConnectionCap) -> None:
        super().__init__(runner, backlog=min(MAX_BACKLOG, cap.limit))
        self._host = host
        self._port = port
        self._cap = cap

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None  # the runner is set up before its sites start
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self._cap.wrap(server()), self._host, self._port, backlog=self._backlog
        )
