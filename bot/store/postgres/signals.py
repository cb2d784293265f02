"""LISTEN/NOTIFY: wake this process's loops when another one queues or finishes a task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from bot.domain.models import TaskStatus

log = logging.getLogger("bot.store")

RECONNECT_SECONDS = 1.0
START_TIMEOUT = 10.0
# Wakes the other processes (payload `queued:<id>` or `succeeded:<id>`); sent at commit, lost if nobody listens.
CHANNEL = "encore_tasks"


class Signals:
    """Keeps one connection of its own LISTENing (a pooled one would lose its listener when returned)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._listener: asyncio.Task[None] | None = None

    async def listen(self, wake: Callable[[TaskStatus, int], None]) -> None:
        """Listen in the background from now on, reconnecting after a lost connection (what is notified meanwhile
        is lost: the service's periodic scans find that work). Returns once listening, or after `START_TIMEOUT`."""
        if self._listener is not None:
            return
        listening = asyncio.Event()
        self._listener = asyncio.create_task(self._keep_listening(wake, listening), name="encore-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listening.wait(), timeout=START_TIMEOUT)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _keep_listening(self, wake: Callable[[TaskStatus, int], None], listening: asyncio.Event) -> None:
        while True:
            try:
                await self._listen_once(wake, listening)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot listen for other processes' work (%s); retrying", error)
            else:
                log.warning("the listening connection to PostgreSQL was lost; reconnecting")
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_once(self, wake: Callable[[TaskStatus, int], None], listening: asyncio.Event) -> None:
        """Listen on one connection until it is lost."""

        def received(_connection: object, _pid: int, _channel: str, payload: object) -> None:
            status, _, task_id = str(payload).partition(":")
            with contextlib.suppress(ValueError):
                wake(TaskStatus(status), int(task_id))

        connection = await asyncpg.connect(self._url)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, received)
            listening.set()
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
