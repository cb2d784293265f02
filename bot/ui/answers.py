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
    """The interaction answers discord.py is sending; `settled` waits, briefly, for those already on their way.

    Waiters go on in the order they came, and one that comes while earlier ones are still being let go waits
    behind them: the commands' work starts in the order their answers left, as it would without the wait.
    """

    def __init__(self, longest_wait: float = 0.5) -> None:
        self.longest_wait = longest_wait
        self._started = 0  # answers started so far; each one's number is its place in that count
        self._on_their_way: set[int] = set()
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []  # (answers started before it, its turn)

    def observe(self, trace: aiohttp.TraceConfig) -> None:
        """Follow the answers among the requests `trace` (discord.py's `http_trace`, not yet in use) sees."""
        trace.on_request_start.append(self._answer_started)
        trace.on_request_end.append(self._answer_ended)
        trace.on_request_exception.append(self._answer_ended)

    async def settled(self) -> None:
        """Return once the answers on their way now have left, or after `longest_wait`: letting them go first is
        never a reason to stall the work itself. Answers that start later are not waited for."""
        before = self._started
        if not self._waiting and not self._holds(before):
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append((before, turn))
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.longest_wait):
                    await turn
        finally:
            self._waiting.remove((before, turn))
            self._let_go()

    def _holds(self, before: int) -> bool:
        """Whether an answer that started before the `before`-th is still on its way."""
        return bool(self._on_their_way) and min(self._on_their_way) < before

    def _let_go(self) -> None:
        """Let the waiters go, in order, up to the first whose answers are not all out: later ones wait on more."""
        for before, turn in self._waiting:
            if self._holds(before):
                return
            if not turn.done():
                turn.set_result(None)

    async def _answer_started(
        self, _: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if CALLBACK_PATH.search(params.url.path):
            context.answer = self._started
            self._started += 1
            self._on_their_way.add(context.answer)

    async def _answer_ended(
        self,
        _: aiohttp.ClientSession,
        context: SimpleNamespace,
        __: aiohttp.TraceRequestEndParams | aiohttp.TraceRequestExceptionParams,
    ) -> None:
        answer = getattr(context, "answer", None)
        if answer is not None:
            context.answer = None
            self._on_their_way.discard(answer)
            self._let_go()
