"""Interaction answers on their way to Discord, so that the work following one answer lets the others go first.

A burst of commands is acknowledged fastest when nothing else competes for the event loop meanwhile: otherwise each
spending command's database work and status edit runs between the answers of the commands behind it, which then
wait their turn (bench part 1). Answers are seen as discord.py's requests to `/interactions/{id}/{token}/callback`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from types import SimpleNamespace

import aiohttp

CALLBACK_PATH = re.compile(r"/interactions/\d+/[^/]+/callback$")


class AnswersInFlight:
    """The interaction answers discord.py is sending; `settled` waits, briefly, until none is on its way.

    It waits for answers that start while it waits too: in a burst, the commands still arriving are the ones to
    let go first. Under steady traffic that could be a while, hence the short bound. Waiters go on in the order
    they came, and one that comes while earlier ones are still being let go waits behind them: the commands' work
    starts in the order their answers left, as it would without the wait.
    """

    def __init__(self, longest_wait: float = 0.25) -> None:
        self.longest_wait = longest_wait
        self._on_their_way = 0
        self._waiting: list[asyncio.Future[None]] = []

    def observe(self, trace: aiohttp.TraceConfig) -> None:
        """Follow the answers among the requests `trace` (discord.py's `http_trace`, not yet in use) sees."""
        trace.on_request_start.append(self._answer_started)
        trace.on_request_end.append(self._answer_ended)
        trace.on_request_exception.append(self._answer_ended)

    async def settled(self) -> None:
        """Return once no answer is on its way, or after `longest_wait`: letting answers go first is never a reason
        to stall the work itself."""
        if self._on_their_way == 0 and not self._waiting:
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.longest_wait):
                    await turn
        finally:
            self._waiting.remove(turn)
            self._let_go()

    def _let_go(self) -> None:
        if self._on_their_way == 0:
            for turn in self._waiting:
                if not turn.done():
                    turn.set_result(None)

    async def _answer_started(
        self, _: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if CALLBACK_PATH.search(params.url.path):
            context.answer = True
            self._on_their_way += 1

    async def _answer_ended(
        self,
        _: aiohttp.ClientSession,
        context: SimpleNamespace,
        __: aiohttp.TraceRequestEndParams | aiohttp.TraceRequestExceptionParams,
    ) -> None:
        if getattr(context, "answer", False):
            context.answer = False
            self._on_their_way = max(0, self._on_their_way - 1)
            self._let_go()
