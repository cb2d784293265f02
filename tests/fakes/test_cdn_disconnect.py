"""The providers' fake CDN when a client hangs up mid-download (the bench stops a bot that is downloading)."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from tests.fakes.providers import FakeSunoApi


async def test_a_client_that_hangs_up_mid_download_leaves_no_error(caplog: pytest.LogCaptureFixture) -> None:
    fake = await FakeSunoApi(audio_size=20_000_000).start()
    try:
        async with aiohttp.ClientSession() as session:
            response = await session.get(fake.audio_url("clip-1"))
            await response.content.readexactly(1024)
            response.close()  # drop the connection with most of the file unsent
    finally:
        with caplog.at_level(logging.DEBUG, logger="aiohttp"):
            await fake.close()  # waits for the handler to end
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert fake.calls("/cdn/audio/clip-1.mp3")[0].status == 200
