"""Start-up while Discord cannot be reached: the real `python -m bot` says so in one line, retries with a capped
backoff instead of exiting (a service manager would restart nothing while the network comes back), and connects as
soon as Discord answers. A stop signal ends the wait at once."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.harness import free_port
from tests.fakes.discord import FakeDiscord
from tests.reliability.harness import READY_LINE, BotProcess, fast_sunoapi, sunoapi_env


async def test_discord_down_at_start_then_up(tmp_path: Path) -> None:
    port = free_port()
    discord = FakeDiscord(port=port)
    async with fast_sunoapi() as suno:
        bot = await BotProcess.spawn(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
        line = await bot.wait_for_line("Discord unreachable")
        assert f"cannot connect to 127.0.0.1:{port}" in line and "retrying in 1 s" in line
        async with discord:
            await bot.wait_for_line(READY_LINE, within=20)
            await discord.wait_for_identify()
            assert await bot.terminate() == 0
    assert "Traceback" not in bot.output
    retries = [line for line in bot.lines if "Discord unreachable" in line]
    assert retries and all("retrying in" in line for line in retries)


async def test_a_stop_signal_ends_the_wait_for_discord(tmp_path: Path) -> None:
    discord = FakeDiscord(port=free_port())  # never started
    async with fast_sunoapi() as suno:
        bot = await BotProcess.spawn(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
        await bot.wait_for_line("Discord unreachable")
        assert await bot.terminate(within=5) == 0
    assert "Traceback" not in bot.output


async def test_losing_discord_after_start_is_one_line_per_reconnect_attempt(tmp_path: Path) -> None:
    discord = FakeDiscord(port=free_port())
    async with fast_sunoapi() as suno:
        async with discord:
            bot = await BotProcess.start(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
            await discord.wait_for_identify()
        line = await bot.wait_for_line("Attempting a reconnect", within=30)
        assert "after ClientConnectorError" in line or "after OSError" in line, bot.output
        assert await bot.terminate() == 0
    assert "Traceback" not in bot.output


async def test_objects_made_at_start_are_set_aside_from_garbage_collection(tmp_path: Path) -> None:
    """A full collection over everything loaded at start held up a burst's acknowledgements (bench part 1): the
    real process sets those objects aside once, before it connects, and says how many (LOG_LEVEL=DEBUG here)."""
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        bot = await BotProcess.start(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
        line = await bot.wait_for_line("set aside from garbage collection")
        assert await bot.terminate() == 0
    counted = re.search(r"(\d+) objects made at start", line)
    assert counted, line
    assert int(counted.group(1)) > 20_000, line  # discord.py alone makes about 48,000
    assert bot.lines.index(line) < next(i for i, text in enumerate(bot.lines) if READY_LINE in text)
