"""Work after an interaction's answer waits for the answers still on their way (counted from discord.py's requests
through its `http_trace`), never for other requests, and never longer than its bound; a failed answer counts out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.ui.answers import AnswersInFlight
from tests.e2e.harness import free_port

CALLBACK = "/api/v10/interactions/1200000000000000001/token-abc/callback"
EDIT = "/api/v10/webhooks/1200000000000000002/token-abc/messages/@original"


class HeldDiscord:
    """Answers an interaction's callback only once released; anything else at once."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def callback(self, _: web.Request) -> web.Response:
        self.arrived.set()
        await self.release.wait()
        return web.Response(status=204)

    async def edit(self, _: web.Request) -> web.Response:
        return web.json_response({"id": "1"})


@pytest.fixture
async def discord() -> AsyncIterator[tuple[HeldDiscord, str]]:
    held = HeldDiscord()
    app = web.Application()
    app.router.add_post(CALLBACK, held.callback)
    app.router.add_patch(EDIT, held.edit)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield held, f"http://127.0.0.1:{port}"
    held.release.set()
    await runner.cleanup()


def session_counted_by(answers: AnswersInFlight) -> aiohttp.ClientSession:
    trace = aiohttp.TraceConfig()
    answers.observe(trace)
    return aiohttp.ClientSession(trace_configs=[trace])


async def test_work_waits_for_an_answer_on_its_way_and_not_for_other_requests(
    discord: tuple[HeldDiscord, str],
) -> None:
    held, base = discord
    answers = AnswersInFlight(longest_wait=60)
    async with session_counted_by(answers) as session:
        async with session.patch(base + EDIT) as edited:
            assert edited.status == 200
        await answers.settled()  # an edit is not an answer: nothing to wait for
        sending = asyncio.create_task(session.post(base + CALLBACK))
        await held.arrived.wait()
        waiting = asyncio.create_task(answers.settled())
        for _ in range(10):  # let it reach its wait
            await asyncio.sleep(0)
        assert not waiting.done()
        held.release.set()
        async with await sending as answered:
            assert answered.status == 204
        await waiting
        await answers.settled()  # none on its way any more


async def test_an_answer_that_fails_counts_out_and_a_stuck_one_holds_work_only_for_the_bound(
    discord: tuple[HeldDiscord, str],
) -> None:
    held, base = discord
    answers = AnswersInFlight(longest_wait=60)  # a count left behind would hold the waits below for a minute
    async with session_counted_by(answers) as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(f"http://127.0.0.1:{free_port()}{CALLBACK}")  # nobody listens
        await asyncio.wait_for(answers.settled(), timeout=5)
        stuck = asyncio.create_task(session.post(base + CALLBACK))
        await held.arrived.wait()
        answers.longest_wait = 0.05
        await asyncio.wait_for(answers.settled(), timeout=5)  # the bound, although the answer is still stuck
        assert not stuck.done()
        answers.longest_wait = 60
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        await asyncio.wait_for(answers.settled(), timeout=5)  # the cancelled answer counted out


async def test_work_goes_on_in_the_order_it_came_even_when_it_comes_as_the_others_are_let_go(
    discord: tuple[HeldDiscord, str],
) -> None:
    held, base = discord
    answers = AnswersInFlight(longest_wait=60)
    went_on: list[str] = []

    async def work(name: str) -> None:
        await answers.settled()
        went_on.append(name)

    async def answer_then_work() -> None:
        """A command whose answer is the last on its way: the moment it has left, the others' waits end, and
        this command's own work comes right then, before they have gone on."""
        async with session.post(base + CALLBACK) as answered:
            assert answered.status == 204
        await work("third")

    async with session_counted_by(answers) as session:
        last = asyncio.create_task(answer_then_work())
        await held.arrived.wait()
        earlier = [asyncio.create_task(work(name)) for name in ("first", "second")]
        for _ in range(10):  # let both reach their wait
            await asyncio.sleep(0)
        assert went_on == []
        held.release.set()
        await asyncio.gather(last, *earlier)
    assert went_on == ["first", "second", "third"]
