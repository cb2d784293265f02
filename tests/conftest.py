"""Fixtures shared by every test layer, and the notice when the PostgreSQL tests could not run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.reliability.harness import BotProcess
from tests.support.postgres import SKIP_REASON


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
