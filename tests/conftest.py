"""Fixtures shared by every test layer, and the notice when the PostgreSQL tests could not run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from bot.__main__ import set_start_up_objects_aside
from tests.reliability.harness import BotProcess
from tests.support.postgres import SKIP_REASON


def pytest_sessionstart(session: pytest.Session) -> None:
    """Set what this process loaded aside from garbage collection, as `python -m bot` does at start. Most tests run
    the bot in this process, beside pytest and the fakes: a full collection over all of it held the event loop and
    discord.py's voice thread for about 50 ms, a gap between voice packets production does not have."""
    set_start_up_objects_aside()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that the PostgreSQL tests were skipped: a green run without them proves nothing about it."""
    skipped = [report for report in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(report.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} PostgreSQL tests SKIPPED: {SKIP_REASON}", red=True, bold=True)


@pytest.fixture(autouse=True)
def no_bot_process_outlives_its_test() -> Iterator[None]:
    """A test that fails before stopping its `python -m bot` would leave it running: kill what is left."""
    yield
    for process in BotProcess.spawned:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    BotProcess.spawned.clear()
