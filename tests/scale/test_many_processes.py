"""Three real `python -m bot` processes on one PostgreSQL: two gateway shards and a worker share 60 tasks.

One process is SIGKILLed in the middle. Every task must still end, delivered exactly once (one result message,
its nonce, the task's message id) or failed with a reason; no request may reach the provider twice; and the
provider's per-key limits must hold for the three processes together.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from bot.service._submit import IN_DOUBT_MESSAGE
from tests.e2e.harness import is_result, provider_env
from tests.fakes.discord import FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.reliability.harness import BotProcess
from tests.support.postgres import fresh_database

DISCORD_TOKEN = "fake-discord-token-0123456789"
PROVIDER_KEY = "fake-provider-key-0123456789"
GUILDS_PER_SHARD = 2
LEASE_SECONDS = 2


def process_env(discord: FakeDiscord, provider: FakeSunoApi | FakeApiframe, url: str, shards: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_GATEWAY_URL": discord.gateway_url,
        "DEV_GUILD_ID": str(discord.guild_id),
        "DATABASE_URL": url,
        "SHARD_COUNT": "2",
        "SHARD_IDS": shards,
        "LEASE_SECONDS": str(LEASE_SECONDS),
        "POLL_INTERVAL_SECONDS": "0.3",
        "USER_COOLDOWN_SECONDS": "0",
        "MAX_ACTIVE_TASKS_PER_USER": "0",
        "DAILY_TASKS_PER_USER": "0",
        "LOG_LEVEL": "INFO",
        **provider_env(provider),
    }


async def database_tasks(url: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(
            "SELECT id, status, error, result_message_id, lease_owner, lease_until > extract(epoch FROM now()) AS held "
            "FROM tasks"
        )
    finally:
        await connection.close()


@pytest.mark.parametrize(("provider_name", "count"), [("apiframe", 45), ("sunoapi", 15)])
async def test_three_processes_share_the_work_and_one_dies(provider_name: str, count: int, tmp_path: Path) -> None:
    provider: FakeSunoApi | FakeApiframe = (
        FakeApiframe(PROVIDER_KEY)
        if provider_name == "apiframe"
        else FakeSunoApi(PROVIDER_KEY, submit_interval=0.25, poll_per_second=8)
    )
    started = time.monotonic()
    discord = FakeDiscord(token=DISCORD_TOKEN, shard_count=2, max_concurrency=2)
    async with fresh_database() as url, discord, provider:
        channels = [
            (await discord.add_guild(f"server {shard}.{n}", shard=shard))[1]
            for shard in (0, 1)
            for n in range(GUILDS_PER_SHARD)
        ]
        processes = await asyncio.gather(
            *(BotProcess.start(process_env(discord, provider, url, shards), tmp_path) for shards in ("0", "1", "none"))
        )
        try:
            for number in range(count):
                command = await discord.invoke_command(
                    "generate", {"prompt": f"song number {number}"}, channel_id=channels[number % len(channels)]
                )
                await command.wait_response()
            # Posting answers come late (the message is already stored): a killed poster leaves a half-posted result.
            discord.inject("POST", r"/channels/\d+/messages", None, times=count, delay=0.5)
            victim, held = await _a_process_posting(processes, url, count)
            await victim.kill()
            rows = await _when(lambda rows: all(r["status"] in ("delivered", "failed") for r in rows), url, 45)
        finally:
            for process in processes:
                await process.kill()
        results = [message for channel in channels for message in discord.messages(channel) if is_result(message)]
    _assert_outcomes(rows, results, provider, count)
    assert held and all(row["status"] in ("delivered", "failed") for row in rows if row["id"] in held)
    assert discord.identify_violations == []
    assert time.monotonic() - started < 60


async def _a_process_posting(processes: list[BotProcess], url: str, count: int) -> tuple[BotProcess, list[int]]:
    """Once a quarter of the tasks are posted: a process in the middle of posting one, and the tasks it holds."""
    by_mark = {f":{process.process.pid}:": process for process in processes}

    def owner(row: asyncpg.Record) -> BotProcess | None:
        return next((p for mark, p in by_mark.items() if row["held"] and mark in (row["lease_owner"] or "")), None)

    def posting(rows: list[asyncpg.Record]) -> bool:
        delivered = sum(row["status"] == "delivered" for row in rows)
        return delivered >= count // 4 and any(row["status"] == "succeeded" and owner(row) for row in rows)

    rows = await _when(posting, url)
    victim = next(owner(row) for row in rows if row["status"] == "succeeded" and owner(row))
    assert victim is not None
    return victim, [row["id"] for row in rows if owner(row) is victim]


async def _when(done: Callable[[list[asyncpg.Record]], bool], url: str, within: float = 30) -> list[asyncpg.Record]:
    """The tasks' rows once `done(rows)` holds (they are read as an operator would, from outside)."""
    deadline = time.monotonic() + within
    while True:
        rows = await database_tasks(url)
        if done(rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"tasks after {within} s: {Counter(row['status'] for row in rows)}")
        await asyncio.sleep(0.2)


def _assert_outcomes(
    rows: list[asyncpg.Record], results: list[StoredMessage], provider: FakeSunoApi | FakeApiframe, count: int
) -> None:
    assert len(rows) == count
    delivered = {row["id"]: row for row in rows if row["status"] == "delivered"}
    failed = [row for row in rows if row["status"] == "failed"]
    assert all(row["error"] == IN_DOUBT_MESSAGE for row in failed), [row["error"] for row in failed]
    by_nonce = Counter(message.nonce for message in results)
    assert sorted(map(str, by_nonce)) == sorted(f"encore-{task_id}" for task_id in delivered)  # one message per task
    assert set(by_nonce.values()) == {1}
    assert {message.id for message in results} == {row["result_message_id"] for row in delivered.values()}
    prompts = Counter(str(submit.json.get("prompt")) for submit in provider.submits)
    assert all(times == 1 for times in prompts.values()), prompts  # never submitted twice
    assert len(prompts) >= len(delivered)
    if isinstance(provider, FakeSunoApi):
        assert provider.rate_limit_violations == []
