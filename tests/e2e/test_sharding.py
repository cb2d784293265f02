"""Shards and workers: one process runs the shards it is given, a worker runs none and still does the work."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import EncoreBot
from bot.domain.models import GenerateRequest, Requester
from bot.store.postgres import PostgresStore
from tests.e2e.harness import PROVIDER_KEY, eventually, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.fakes.discord import USER_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.support.postgres import fresh_database


def fast_suno() -> FakeSunoApi:
    return FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.2, poll_per_second=20)


async def test_two_shards_in_one_process_each_get_their_servers(tmp_path: Path) -> None:
    async with FakeDiscord(shard_count=2, max_concurrency=2) as discord, fast_suno() as suno:
        guilds = [await discord.add_guild(f"server {shard}", shard=shard) for shard in (0, 1)]
        env = {**provider_env(suno), "SHARD_COUNT": "2", "SHARD_IDS": "0,1"}
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings) as running:
            await eventually(lambda: all(running.bot.get_guild(guild) for guild, _ in guilds), what="both servers")
            assert sorted(shard for shard in discord.identified_shards if shard) == [(0, 2), (1, 2)]
            assert discord.identify_violations == []
            for guild, channel in guilds:
                assert running.bot.get_guild(guild).shard_id == (guild >> 22) % 2  # type: ignore[union-attr]
                await discord.invoke_command(
                    "extend",
                    {"song": f"https://suno.com/song/{CLIP}", "at": "5", "lyrics": f"{guild}"},
                    channel_id=channel,
                )
                await discord.wait_for_message(channel, is_result)


async def test_a_worker_runs_no_gateway_and_still_delivers(tmp_path: Path) -> None:
    async with fresh_database() as url, FakeDiscord() as discord, fast_suno() as suno:
        env = {**provider_env(suno), "DATABASE_URL": url, "SHARD_IDS": "none", "LEASE_SECONDS": "2"}
        settings = settings_for(discord, tmp_path / "unused.db", env)
        queued_by_a_shard = await PostgresStore.open(url)  # as a process with the gateway would queue it
        task = await queued_by_a_shard.create_task(
            Requester(USER_ID, discord.channel_id, discord.guild_id), "sunoapi", GenerateRequest(prompt="a waltz")
        )
        await queued_by_a_shard.close()
        assert task is not None
        worker = EncoreBot(settings, progress_interval=0)
        runner = asyncio.create_task(worker.start(settings.discord_token))
        try:
            result = await discord.wait_for_message(discord.channel_id, is_result, timeout=20)
            assert len(suno.submits) == 1 and "a waltz" in str(suno.submits[0].json)
            assert discord.identify_count == 0 and discord.sync_counts == {}
            assert worker.gateway_connected()
            assert result.nonce is not None
        finally:
            await worker.close()
            await runner
