"""Work after an interaction's answer waits until no answer is on its way (seen in discord.py's requests through
its `http_trace`): not for other requests, through a burst's answers that keep leaving, never longer than its bound,
and in the order it came; an answer that fails or is cancelled counts out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.ui.answers import AnswersInFlight
from tests.e2e.harness import free_port

EDIT = "/api/v10/webhooks/1200000000000000002/token-abc/messages/@original"


def callback(interaction: int) -> str:
    return f"/api/v10/interactions/{interaction}/token-abc/callback"


class HeldDiscord:
    """Holds each request (an answer or an edit) until the test lets that path go."""

    def __init__(self) -> None:
        self.arrived: dict[str, asyncio.Event] = {}
        self.release: dict[str, asyncio.Event] = {}

    def hold(self, path: str) -> None:
        self.arrived[path], self.release[path] = asyncio.Event(), asyncio.Event()

    async def answer(self, request: web.Request) -> web.Response:
        self.arrived[request.path].set()
        await self.release[request.path].wait()
        return web.Response(status=204 if request.method == "POST" else 200)


@pytest.fixture
async def discord() -> AsyncIterator[tuple[HeldDiscord, str]]:
    held = HeldDiscord()
    app = web.Application()
    app.router.add_post("/api/v10/interactions/{id}/{token}/callback", held.answer)
    app.router.add_patch(EDIT, held.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield held, f"http://127.0.0.1:{port}"
    for release in held.release.values():
        release.set()
    await runner.cleanup()


def session_counted_by(answers: AnswersInFlight) -> aiohttp.ClientSession:
    trace = aiohttp.TraceConfig()
    answers.observe(trace)
    return aiohttp.ClientSession(trace_configs=[trace])


async def let_run() -> None:
    """Let the tasks just created run up to their next wait."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_work_waits_for_an_answer_on_its_way_and_not_for_an_edit(discord: tuple[HeldDiscord, str]) -> None:
    held, base = discord
    answers = AnswersInFlight(longest_wait=60)
    async with session_counted_by(answers) as session:
        held.hold(EDIT)
        editing = asyncio.create_task(session.patch(base + EDIT))
        await held.arrived[EDIT].wait()
        await asyncio.wait_for(answers.settled(), timeout=5)  # an edit on its way is not an answer
        held.hold(callback(1))
        sending = asyncio.create_task(session.post(base + callback(1)))
        await held.arrived[callback(1)].wait()
        waiting = asyncio.create_task(answers.settled())
        await let_run()
        assert not waiting.done()
        held.release[callback(1)].set()
        async with await sending as answered:
            assert answered.status == 204
        await asyncio.wait_for(waiting, timeout=5)
        held.release[EDIT].set()
        (await editing).close()


async def test_work_waits_while_a_burst_s_answers_keep_leaving(discord: tuple[HeldDiscord, str]) -> None:
    held, base = discord
    answers = AnswersInFlight(longest_wait=60)
    async with session_counted_by(answers) as session:
        held.hold(callback(1))
        first = asyncio.create_task(session.post(base + callback(1)))
        await held.arrived[callback(1)].wait()
        waiting = asyncio.create_task(answers.settled())
        await let_run()
        held.hold(callback(2))
        later = asyncio.create_task(session.post(base + callback(2)))  # the next command of the burst
        await held.arrived[callback(2)].wait()
        held.release[callback(1)].set()
        (await first).close()
        await let_run()
        assert not waiting.done()  # the later answer is still on its way
        held.release[callback(2)].set()
        (await later).close()
        await asyncio.wait_for(waiting, timeout=5)


async def test_an_answer_that_fails_counts_out_and_a_stuck_one_holds_work_only_for_the_bound(
    discord: tuple[HeldDiscord, str],
) -> None:
    held, base = discord
    answers = AnswersInFlight(longest_wait=60)  # an answer counted in for good would hold the waits below a minute
    loop = asyncio.get_running_loop()
    async with session_counted_by(answers) as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(f"http://127.0.0.1:{free_port()}{callback(1)}")  # nobody listens
        await asyncio.wait_for(answers.settled(), timeout=5)
        held.hold(callback(2))
        stuck = asyncio.create_task(session.post(base + callback(2)))
        await held.arrived[callback(2)].wait()
        answers.longest_wait = 0.05
        started = loop.time()
        await asyncio.wait_for(answers.settled(), timeout=5)
        assert loop.time() - started >= 0.05 and not stuck.done()  # it waited, for the bound only
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
        async with session.post(base + callback(1)) as answered:
            assert answered.status == 204
        await work("third")

    async with session_counted_by(answers) as session:
        held.hold(callback(1))
        last = asyncio.create_task(answer_then_work())
        await held.arrived[callback(1)].wait()
        earlier = [asyncio.create_task(work(name)) for name in ("first", "second")]
        await let_run()
        assert went_on == []
        held.release[callback(1)].set()
        await asyncio.gather(last, *earlier)
    assert went_on == ["first", "second", "third"]
